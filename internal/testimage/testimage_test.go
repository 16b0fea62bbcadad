package testimage

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeGoRoot writes a minimal Go installation: the image must copy it
// verbatim, modes and symlinks included.
func fakeGoRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"VERSION":          "go1.99.1\ntime 2026-01-01\n",
		"bin/go":           "#!/bin/sh\n",
		"src/fmt/print.go": "package fmt\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/go"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("go", filepath.Join(dir, "bin/golink")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeTool returns a program for WithTools: a copy of /bin/busybox, which
// is static, so ldd names no library.
func fakeTool(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func needBusybox(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		if os.Getenv("CACHECHECK_INTEGRATION") == "1" {
			t.Fatal("/bin/busybox is missing: .ci/setup.d/20-baseimage.sh installs busybox-static")
		}
		t.Skip("/bin/busybox is missing: install busybox-static")
	}
}

func TestImage(t *testing.T) {
	needBusybox(t)
	goroot := fakeGoRoot(t)
	tool := fakeTool(t)
	img, err := Image(WithGoRoot(goroot), WithTools(tool))
	if err != nil {
		t.Fatal(err)
	}
	img2, err := Image(WithGoRoot(goroot), WithTools(tool))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("two builds from the same inputs differ: %s, %s", d1, d2)
	}

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("platform %s/%s, want linux/GOARCH", cf.OS, cf.Architecture)
	}
	env := strings.Join(cf.Config.Env, "\n")
	for _, want := range []string{"GOPATH=/go", "GOTOOLCHAIN=local", "PATH=/usr/local/go/bin:", "GOLANG_VERSION=1.99.1"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}

	got := map[string]*tar.Header{}
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[strings.TrimSuffix(h.Name, "/")] = h
	}
	checks := []struct {
		name string
		typ  byte
		mode int64
		link string
	}{
		{"tmp", tar.TypeDir, 0o1777, ""},
		{"bin/busybox", tar.TypeReg, 0o755, ""},
		{"bin/sh", tar.TypeSymlink, 0o777, "/bin/busybox"},
		{"etc/passwd", tar.TypeReg, 0o644, ""},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, ""},
		{"usr/local/go/bin/go", tar.TypeReg, 0o755, ""},
		{"usr/local/go/bin/golink", tar.TypeSymlink, 0o777, "go"},
		{"usr/local/go/src/fmt/print.go", tar.TypeReg, 0o644, ""},
		{strings.TrimPrefix(tool, "/"), tar.TypeReg, 0o755, ""},
	}
	for _, c := range checks {
		h := got[c.name]
		if h == nil {
			t.Errorf("%s: missing from the image", c.name)
			continue
		}
		if h.Typeflag != c.typ || h.Mode&0o7777 != c.mode || h.Linkname != c.link || h.Uid != 0 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: type %c mode %o link %q uid %d mtime %d; want type %c mode %o link %q uid 0 mtime 0",
				c.name, h.Typeflag, h.Mode, h.Linkname, h.Uid, h.ModTime.Unix(), c.typ, c.mode, c.link)
		}
	}
}

func TestPush(t *testing.T) {
	needBusybox(t)
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/test/golang:local"
	d, err := Push(context.Background(), ref, WithGoRoot(fakeGoRoot(t)))
	if err != nil {
		t.Fatal(err)
	}
	dref, err := name.NewDigest(d.String())
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(dref)
	if err != nil {
		t.Fatalf("reading back %s: %v", d, err)
	}
	if got, _ := img.Digest(); got.String() != d.DigestStr() {
		t.Errorf("pushed digest %s, read back %s", d.DigestStr(), got)
	}
}

// TestToolFiles checks that a dynamically linked program comes with the C
// library and the loader it needs.
func TestToolFiles(t *testing.T) {
	files, err := toolFiles([]string{"/bin/ls"})
	if err != nil {
		t.Fatal(err)
	}
	var libc, loader bool
	for name, src := range files {
		libc = libc || strings.Contains(name, "/libc.so")
		loader = loader || strings.Contains(name, "ld-linux")
		if _, err := os.Stat(src); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if files["bin/ls"] == "" && files["usr/bin/ls"] == "" || !libc || !loader {
		t.Errorf("toolFiles(/bin/ls) = %v; want ls, libc and the loader", files)
	}
	if _, err := toolFiles([]string{"no-such-program-here"}); err == nil {
		t.Error("toolFiles of a missing program: no error")
	}
}
