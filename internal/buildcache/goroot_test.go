package buildcache_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarLayer is a layer of the entries, in order; a body starting with "->"
// is a symbolic link to the rest, one starting with "=>" a hard link.
func tarLayer(t *testing.T, entries ...[2]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Mode: 0o755, Typeflag: tar.TypeReg, Size: int64(len(e[1]))}
		switch {
		case e[0][len(e[0])-1] == '/':
			h.Typeflag, h.Size = tar.TypeDir, 0
		case len(e[1]) > 2 && e[1][:2] == "->":
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, e[1][2:], 0
		case len(e[1]) > 2 && e[1][:2] == "=>":
			h.Typeflag, h.Linkname, h.Size = tar.TypeLink, e[1][2:], 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e[1]))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func goImage(t *testing.T, arch string, env []string, layers ...v1.Layer) (v1.Image, v1.Hash) {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Env = env
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return img, d
}

// TestUnpackGoRoot checks that the Go installation of an image is found
// from its PATH, unpacked from the flattened layers (a file a later layer
// deletes is not there; links are kept), once per digest, and that images
// without one, or for another architecture, give none.
func TestUnpackGoRoot(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	env := []string{"PATH=/usr/local/bin:/opt/go/bin:/usr/bin", "GOLANG_VERSION=1.99.1"}
	img, d := goImage(t, runtime.GOARCH, env,
		tarLayer(t,
			[2]string{"opt/go/", ""},
			[2]string{"opt/go/VERSION", "go1.99.1\ntime 2026-01-01T00:00:00Z\n"},
			[2]string{"opt/go/bin/go", "#!/bin/sh\necho go\n"},
			[2]string{"opt/go/bin/gofmt", "->go"},
			[2]string{"opt/go/src/old.go", "package old\n"},
			[2]string{"etc/passwd", "root:x:0:0::/root:/bin/sh\n"}),
		tarLayer(t, [2]string{"opt/go/src/.wh.old.go", ""}, [2]string{"opt/go/src/fmt/print.go", "package fmt\n"}))
	g, err := buildcache.UnpackGoRoot(ctx, img, d, cache)
	if err != nil || g == nil {
		t.Fatalf("UnpackGoRoot: %v, %v", g, err)
	}
	if g.Path != "/opt/go" || g.Version != "go1.99.1" || g.Dir != filepath.Join(cache, d.Hex, "opt", "go") {
		t.Errorf("UnpackGoRoot = %+v; want /opt/go, go1.99.1 under %s", g, cache)
	}
	for name, want := range map[string]string{"bin/go": "#!/bin/sh\necho go\n", "src/fmt/print.go": "package fmt\n"} {
		if got, err := os.ReadFile(filepath.Join(g.Dir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	if l, err := os.Readlink(filepath.Join(g.Dir, "bin", "gofmt")); err != nil || l != "go" {
		t.Errorf("bin/gofmt: link to %q, %v; want go", l, err)
	}
	for _, gone := range []string{"src/old.go", "../../etc/passwd"} {
		if _, err := os.Lstat(filepath.Join(g.Dir, gone)); err == nil {
			t.Errorf("%s was unpacked; want only the Go installation, as the image's layers leave it", gone)
		}
	}
	if fi, err := os.Stat(g.GoCommand()); err != nil || fi.Mode()&0o100 == 0 {
		t.Errorf("the go command %s: %v, %v; want an executable", g.GoCommand(), fi, err)
	}

	// Once per digest: a second call reads what the first unpacked.
	if err := os.WriteFile(filepath.Join(g.Dir, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := buildcache.UnpackGoRoot(ctx, img, d, cache)
	if err != nil || *again != *g {
		t.Fatalf("second UnpackGoRoot: %+v, %v; want %+v", again, err, g)
	}
	if _, err := os.Stat(filepath.Join(again.Dir, "marker")); err != nil {
		t.Errorf("the second call unpacked again: %v", err)
	}
	entries, err := os.ReadDir(cache)
	if err != nil || len(entries) != 1 {
		t.Errorf("the cache holds %v (%v); want the one directory of the digest, no temporary one", entries, err)
	}

	// GOROOT, when set, is the installation.
	img2, d2 := goImage(t, runtime.GOARCH, []string{"GOROOT=/usr/lib/go", "PATH=/opt/go/bin"},
		tarLayer(t, [2]string{"usr/lib/go/VERSION", "go1.98.0\n"}, [2]string{"usr/lib/go/bin/go", "x"},
			[2]string{"opt/go/VERSION", "go1.99.1\n"}, [2]string{"opt/go/bin/go", "y"}))
	if g, err := buildcache.UnpackGoRoot(ctx, img2, d2, cache); err != nil || g == nil || g.Path != "/usr/lib/go" || g.Version != "go1.98.0" {
		t.Errorf("image with GOROOT=/usr/lib/go: %+v, %v", g, err)
	}

	// No Go installation; one for another architecture.
	other := "arm64"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	none, dn := goImage(t, runtime.GOARCH, env, tarLayer(t, [2]string{"etc/passwd", "root\n"}))
	foreign, df := goImage(t, other, env, tarLayer(t, [2]string{"opt/go/VERSION", "go1.99.1\n"}, [2]string{"opt/go/bin/go", "x"}))
	for _, c := range []struct {
		name string
		img  v1.Image
		d    v1.Hash
	}{{"no Go", none, dn}, {other, foreign, df}} {
		if g, err := buildcache.UnpackGoRoot(ctx, c.img, c.d, cache); err != nil || g != nil {
			t.Errorf("%s: UnpackGoRoot = %+v, %v; want none", c.name, g, err)
		}
	}
}

// TestUnpackGoRootStaysInside checks that unpacking an image's Go
// installation writes and links nothing outside the cache, whatever its
// links say: a file under a symbolic link to a directory outside is not
// written there (the flattened filesystem has no such file), and a hard
// link through one is refused with the entry named.
func TestUnpackGoRootStaysInside(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("host file"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/opt/go/bin"}
	goFiles := [][2]string{{"opt/go/VERSION", "go1.99.1\n"}, {"opt/go/bin/go", "x"}}
	for _, c := range []struct {
		name    string
		refused string // the entry named in the error; "" for none
		entries [][2]string
	}{
		{"file under an absolute link", "", [][2]string{{"opt/go/lib", "->" + outside}, {"opt/go/lib/pwned", "written outside"}}},
		{"file under a relative link", "", [][2]string{{"opt/go/up", "->../../../../../../../../../../../.." + outside}, {"opt/go/up/pwned", "written outside"}}},
		{"hard link through a link", "opt/go/h", [][2]string{{"opt/go/lib", "->" + outside}, {"opt/go/h", "=>opt/go/lib/secret"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, d := goImage(t, runtime.GOARCH, env, tarLayer(t, append(goFiles, c.entries...)...))
			cache := t.TempDir()
			g, err := buildcache.UnpackGoRoot(ctx, img, d, cache)
			switch {
			case c.refused == "" && err != nil:
				t.Errorf("UnpackGoRoot: %v", err)
			case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
				t.Errorf("UnpackGoRoot = %+v, %v; want an error naming %s", g, err, c.refused)
			default:
				t.Logf("UnpackGoRoot: %v", err)
			}
			if entries, err := os.ReadDir(outside); err != nil || len(entries) != 1 {
				t.Errorf("%s holds %v (%v): unpacking wrote outside the cache", outside, entries, err)
			}
			if fi, err := os.Stat(secret); err != nil || fi.Sys().(*syscall.Stat_t).Nlink != 1 {
				t.Errorf("%s: %v; want it linked from nowhere else", secret, err)
			}
			if entries, _ := os.ReadDir(cache); c.refused != "" && len(entries) != 0 {
				t.Errorf("the cache holds %v after a failed unpack; want nothing", entries)
			}
		})
	}
}
