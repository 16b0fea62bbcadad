// Package modloadtest writes module proxies and Go modules for tests that
// run the real go command against them, offline.
package modloadtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Proxy is a module proxy in a directory, served as GOPROXY=file://Dir.
type Proxy struct {
	Dir string
}

// NewProxy returns an empty proxy in a new temporary directory.
func NewProxy(t testing.TB) *Proxy {
	return &Proxy{Dir: t.TempDir()}
}

// URL returns the GOPROXY value of the proxy.
func (p *Proxy) URL() string { return "file://" + filepath.ToSlash(p.Dir) }

// Add adds module path@version with files (name to content). A go.mod file
// is written unless files has one.
func (p *Proxy) Add(t testing.TB, path, version string, files map[string]string) {
	t.Helper()
	if err := p.add(path, version, files); err != nil {
		t.Fatal(err)
	}
}

func (p *Proxy) add(path, version string, files map[string]string) error {
	if _, ok := files["go.mod"]; !ok {
		files = clone(files)
		files["go.mod"] = "module " + path + "\n\ngo 1.21\n"
	}
	ep, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return err
	}
	vdir := filepath.Join(p.Dir, filepath.FromSlash(ep), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	src, err := os.MkdirTemp("", "modsrc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	for name, content := range files {
		f := filepath.Join(src, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			return err
		}
	}
	var zip bytes.Buffer
	if err := modzip.CreateFromDir(&zip, module.Version{Path: path, Version: version}, src); err != nil {
		return fmt.Errorf("zipping %s@%s: %w", path, version, err)
	}
	write := func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(vdir, name), data, 0o644)
	}
	if err := write(ev+".zip", zip.Bytes()); err != nil {
		return err
	}
	if err := write(ev+".mod", []byte(files["go.mod"])); err != nil {
		return err
	}
	if err := write(ev+".info", []byte(fmt.Sprintf(`{"Version":%q,"Time":"2024-01-01T00:00:00Z"}`, version))); err != nil {
		return err
	}
	list, _ := os.ReadFile(filepath.Join(vdir, "list"))
	versions := strings.Fields(string(list))
	if !slices.Contains(versions, version) {
		versions = append(versions, version)
	}
	return write("list", []byte(strings.Join(versions, "\n")+"\n"))
}

// Replace rewrites the zip of path@version with other files, keeping its
// go.mod: a proxy serving tampered content.
func (p *Proxy) Replace(t testing.TB, path, version string, files map[string]string) {
	t.Helper()
	p.Add(t, path, version, files)
}

// Remove removes the file of path@version with the extension ext (".zip",
// ".mod", ".info") from the proxy.
func (p *Proxy) Remove(t testing.TB, path, version, ext string) {
	t.Helper()
	ep, _ := module.EscapePath(path)
	ev, _ := module.EscapeVersion(version)
	if err := os.Remove(filepath.Join(p.Dir, filepath.FromSlash(ep), "@v", ev+ext)); err != nil {
		t.Fatal(err)
	}
}

// Env returns the environment for the go command to use the proxy only:
// the current environment with GOPROXY set to the proxy, no checksum
// database, GOFLAGS cleared and GOPRIVATE set to private.
func (p *Proxy) Env(private string) []string {
	env := os.Environ()
	set := map[string]string{
		"GOPROXY":     p.URL(),
		"GOSUMDB":     "off",
		"GOFLAGS":     "",
		"GOPRIVATE":   private,
		"GONOPROXY":   "none",
		"GONOSUMDB":   "",
		"GOTOOLCHAIN": "local",
		"GOWORK":      "",
	}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// WriteModule writes files into dir, then runs `go mod tidy` there with env
// and a throwaway module cache to write go.sum.
func WriteModule(t testing.TB, dir string, env []string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		f := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	t.Cleanup(func() { RemoveAll(cache) })
	Go(t, dir, append(env, "GOMODCACHE="+cache), "mod", "tidy")
}

// Go runs the go command in dir with env and fails the test if it fails.
func Go(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// RemoveAll removes a directory tree with read-only directories, such as a
// module cache.
func RemoveAll(dir string) {
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Deps returns the packages pkg imports, directly or not, from outside the
// main module of dir (the standard library included), for CGO_ENABLED=0,
// sorted: the packages a build cache of dependencies holds for it. unsafe,
// which is never compiled, is left out.
func Deps(t testing.TB, dir, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not (and .Module .Module.Main)}}{{.ImportPath}}{{end}}", pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps %s in %s: %v\n%s", pkg, dir, err, stderr)
	}
	var deps []string
	for _, p := range strings.Fields(string(out)) {
		if p != "unsafe" {
			deps = append(deps, p)
		}
	}
	slices.Sort(deps)
	return deps
}
