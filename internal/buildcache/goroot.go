package buildcache

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// GoRoot is the Go installation of a base image, unpacked on this machine
// so that the build cache is compiled by the toolchain the build will run:
// the same release, the same binaries, so the same cache keys.
type GoRoot struct {
	// Dir is where it is unpacked here.
	Dir string
	// Path is its GOROOT in the image, such as /usr/local/go.
	Path string
	// Version is the release its VERSION file names, such as go1.26.8.
	Version string
}

// GoCommand is the go command of the installation.
func (g *GoRoot) GoCommand() string { return filepath.Join(g.Dir, "bin", "go") }

// UnpackGoRoot unpacks the Go installation of img, whose digest is digest,
// under cacheDir/<digest hex> (once: a later call finds it there) and
// returns it. The installation is the image's GOROOT when its config sets
// one, else the parent of the first directory named bin on its PATH that
// holds a go command (the golang images: /usr/local/go). It returns nil,
// nil when the image holds none, or one for another architecture than
// this machine's, which the go command here cannot run.
func UnpackGoRoot(ctx context.Context, img v1.Image, digest v1.Hash, cacheDir string) (*GoRoot, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the base image's config: %w", err)
	}
	if cf.Architecture != "" && cf.Architecture != runtime.GOARCH {
		return nil, nil
	}
	candidates := goRootCandidates(cf.Config.Env)
	dest := filepath.Join(cacheDir, digest.Hex)
	if g, err := readGoRoot(dest, candidates); err != nil || g != nil {
		return g, err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", cacheDir, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, digest.Hex+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("unpacking the base image's Go: %w", err)
	}
	defer os.RemoveAll(tmp) // after the rename, nothing is left there
	if err := extractUnder(ctx, img, tmp, candidates); err != nil {
		return nil, fmt.Errorf("unpacking the base image's Go: %w", err)
	}
	// Whole or not at all: a concurrent warm may have got there first,
	// with the same contents. (Renaming onto a directory that is not empty
	// fails with ENOTEMPTY, which is fs.ErrExist too.)
	if err := os.Rename(tmp, dest); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("unpacking the base image's Go: %w", err)
	}
	return readGoRoot(dest, candidates)
}

// goRootCandidates returns the directories of an image that may be its
// GOROOT, from the environment of its config, in order of preference.
func goRootCandidates(env []string) []string {
	var out []string
	add := func(d string) {
		d = path.Clean("/" + d)
		for _, c := range out {
			if c == d {
				return
			}
		}
		if d != "/" {
			out = append(out, d)
		}
	}
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GOROOT="); ok && v != "" {
			add(v)
		}
	}
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			for _, d := range strings.Split(v, ":") {
				if path.Base(d) == "bin" {
					add(path.Dir(d))
				}
			}
		}
	}
	add("/usr/local/go")
	return out
}

// readGoRoot returns the first candidate unpacked under dir that is a Go
// installation (bin/go and VERSION), or nil.
func readGoRoot(dir string, candidates []string) (*GoRoot, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	for _, c := range candidates {
		local := filepath.Join(dir, filepath.FromSlash(c))
		if fi, err := os.Stat(filepath.Join(local, "bin", "go")); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		v, err := os.ReadFile(filepath.Join(local, "VERSION"))
		if err != nil {
			continue
		}
		version, _, _ := strings.Cut(string(v), "\n")
		return &GoRoot{Dir: local, Path: c, Version: strings.TrimSpace(version)}, nil
	}
	return nil, nil
}

// extractUnder writes the files of img's flattened filesystem that lie
// under one of the directories dirs (all of them for nil) into dest, at
// the same paths. It
// writes through an [os.Root] on dest, so no link of the image, symbolic
// or hard, leads a write or a link outside dest: such an entry is refused,
// with its name.
func extractUnder(ctx context.Context, img v1.Image, dest string, dirs []string) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	under := func(name string) bool {
		if dirs == nil {
			return true // everything
		}
		for _, d := range dirs {
			if name == d || strings.HasPrefix(name, d+"/") {
				return true
			}
		}
		return false
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		if !under(name) {
			continue
		}
		if err := extractEntry(root, tr, h, name[1:], under); err != nil {
			return fmt.Errorf("the image's %s: %w", name[1:], err)
		}
	}
}

// extractEntry writes the entry h, at rel in root; a hard link only when
// its target is under one of the directories extracted.
func extractEntry(root *os.Root, r io.Reader, h *tar.Header, rel string, under func(string) bool) error {
	if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeDir:
		return root.MkdirAll(rel, 0o755)
	case tar.TypeReg:
		f, err := root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode)&0o755|0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		return root.Symlink(h.Linkname, rel)
	case tar.TypeLink:
		target := path.Clean("/" + h.Linkname)
		if !under(target) {
			return nil
		}
		return root.Link(target[1:], rel)
	}
	return nil
}
