package buildcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/cachecheck/cachecheck/internal/envlist"
	"github.com/cachecheck/cachecheck/internal/proc"
)

// releaseRE matches a Go release that names one toolchain: go1.27.3,
// go1.28rc1; not a language version such as go1.27.
var releaseRE = regexp.MustCompile(`^go1\.[0-9]+(\.[0-9]+|rc[0-9]+|beta[0-9]+)$`)

// IsRelease reports whether v names one Go release ("go1.27.3"), as
// opposed to a language version ("go1.27") that several releases share.
func IsRelease(v string) bool { return releaseRE.MatchString(v) }

// ToolchainPath is where the golang images hold their Go installation,
// and so where a fetched toolchain is taken to live in the image.
const ToolchainPath = "/usr/local/go"

// FetchTimeout bounds [FetchToolchain]'s download.
const FetchTimeout = 10 * time.Minute

// FetchToolchain returns the official Go toolchain of release (such as
// "go1.27.3") for goos/goarch: the golang.org/toolchain module, which the
// go command here downloads through GOPROXY and checks against go.sum's
// checksum database (GOSUMDB) like any module, as GOTOOLCHAIN=release
// would, into cacheDir/toolchain/<release>.<goos>-<goarch> once (a later
// call finds it there; whole or not at all). Its Path is [ToolchainPath].
// env is the go command's environment (GOPROXY, GOSUMDB, GOFLAGS...);
// the download takes at most [FetchTimeout], and a line on stderr says it
// starts.
func FetchToolchain(ctx context.Context, release, goos, goarch, cacheDir string, env []string, stderr io.Writer) (*GoRoot, error) {
	if !IsRelease(release) {
		return nil, fmt.Errorf("%q names no single Go release (such as go1.27.3)", release)
	}
	mod := fmt.Sprintf("golang.org/toolchain@v0.0.1-%s.%s-%s", release, goos, goarch)
	parent := filepath.Join(cacheDir, "toolchain")
	dest := filepath.Join(parent, release+"."+goos+"-"+goarch)
	if g, err := readGoRoot(dest, []string{"/"}); err != nil || g != nil {
		return withPath(g), err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("fetching %s: %w", mod, err)
	}
	tmp, err := os.MkdirTemp(parent, ".fetch-")
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", mod, err)
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintf(stderr, "cachecheck: fetching %s through GOPROXY (at most %v)\n", mod, FetchTimeout)
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	cmd := proc.Command(ctx, "go", "mod", "download", "-json", mod)
	cmd.Dir = tmp
	cmd.Env = envlist.Set(envlist.Set(envlist.Set(env, "GOMODCACHE", filepath.Join(tmp, "mod")), "GOFLAGS", "-modcacherw"), "GOTOOLCHAIN", "local")
	out, err := proc.Output(cmd)
	var m struct{ Dir, Error string }
	jerr := json.Unmarshal(out, &m)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("fetching %s: no answer in %v from GOPROXY", mod, FetchTimeout)
	case m.Error != "":
		return nil, fmt.Errorf("fetching %s: %s", mod, m.Error)
	case err != nil:
		return nil, fmt.Errorf("fetching %s: go mod download: %w", mod, err)
	case jerr != nil || m.Dir == "":
		return nil, fmt.Errorf("fetching %s: go mod download printed %q", mod, out)
	}
	// Module zips keep no file modes: the go command makes a toolchain's
	// programs executable when it switches to it, and so does this.
	for _, sub := range []string{"bin", "pkg/tool"} {
		err := filepath.WalkDir(filepath.Join(m.Dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			return os.Chmod(p, 0o755)
		})
		if err != nil {
			return nil, fmt.Errorf("fetching %s: making its programs executable: %w", mod, err)
		}
	}
	// A concurrent fetch may have got there first, with the same files.
	if err := os.Rename(m.Dir, dest); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("fetching %s: %w", mod, err)
	}
	g, err := readGoRoot(dest, []string{"/"})
	switch {
	case err != nil:
		return nil, err
	case g == nil:
		return nil, fmt.Errorf("fetching %s: it holds no bin/go and VERSION", mod)
	case g.Version != release:
		return nil, fmt.Errorf("fetching %s: its VERSION says %s", mod, g.Version)
	}
	return withPath(g), nil
}

// withPath gives the toolchain g, read from its own directory, the path
// it is taken to have in the image.
func withPath(g *GoRoot) *GoRoot {
	if g != nil {
		g.Path = ToolchainPath
	}
	return g
}
