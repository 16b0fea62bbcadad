package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/rogpeppe/go-internal/diff"
)

// overlay holds the fixed contents of files, by absolute path, over the
// file system: analyze --fix and --diff analyze the fixed Dockerfile again
// before anything is written.
type overlay struct {
	files map[string][]byte
	order []string // names as findings give them, in the order first changed
}

func newOverlay() *overlay { return &overlay{files: map[string][]byte{}} }

// abs returns the absolute path of a file named as findings name it.
func abs(name string) string {
	p, err := filepath.Abs(filepath.FromSlash(name))
	if err != nil {
		return filepath.FromSlash(name)
	}
	return p
}

func (ov *overlay) set(name string, data []byte) {
	p := abs(name)
	if _, ok := ov.files[p]; !ok {
		ov.order = append(ov.order, name)
	}
	ov.files[p] = data
}

// read reads a file named as findings name it, fixed or from disk.
func (ov *overlay) read(name string) ([]byte, error) {
	if data, ok := ov.files[abs(name)]; ok {
		return data, nil
	}
	return os.ReadFile(filepath.FromSlash(name))
}

// dirFS is os.DirFS(dir) with the overlay's files on top.
func (ov *overlay) dirFS(dir string) fs.FS {
	d, err := filepath.Abs(dir)
	if err != nil {
		d = dir
	}
	return &overlayFS{base: os.DirFS(dir), dir: d, ov: ov}
}

type overlayFS struct {
	base fs.FS
	dir  string
	ov   *overlay
}

func (o *overlayFS) Open(name string) (fs.File, error) {
	if fs.ValidPath(name) {
		if data, ok := o.ov.files[filepath.Join(o.dir, filepath.FromSlash(name))]; ok {
			return &memFile{Reader: bytes.NewReader(data), name: filepath.Base(filepath.FromSlash(name)), size: int64(len(data))}, nil
		}
	}
	return o.base.Open(name)
}

// memFile is an overlay file.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Size() int64                { return f.size }
func (f *memFile) Mode() fs.FileMode          { return 0o644 }
func (f *memFile) ModTime() time.Time         { return time.Time{} }
func (f *memFile) IsDir() bool                { return false }
func (f *memFile) Sys() any                   { return nil }

// maxFixRounds bounds the rounds of --fix: a round applies the fixes that
// do not overlap, the next analyzes the result and applies what is left.
const maxFixRounds = 4

// runFix applies the edits of findings, and of the findings of the fixed
// files (reanalyze), then prints a diff (--diff) or writes the files
// (--fix).
func (o *analyzeOptions) runFix(io IO, ov *overlay, findings []analyzer.Finding, reanalyze func() ([]analyzer.Finding, error)) error {
	orig := findings
	applied := 0
	for round := 0; round < maxFixRounds; round++ {
		fixed, err := analyzer.ApplyFixes(findings, ov.read)
		if err != nil {
			return err
		}
		if len(fixed.Applied) == 0 {
			break
		}
		for _, name := range sortedNames(fixed.Files) {
			ov.set(name, fixed.Files[name])
		}
		applied += len(fixed.Applied)
		if findings, err = reanalyze(); err != nil {
			return fmt.Errorf("analyzing the fixed Dockerfile: %w", err)
		}
	}
	var left []string
	for _, f := range findings {
		if len(f.Edits) > 0 {
			left = append(left, fmt.Sprintf("%s %s", f.Position(), f.Rule))
		}
	}
	if o.diff {
		for _, name := range ov.order {
			old, err := os.ReadFile(filepath.FromSlash(name))
			oldName := name
			if errors.Is(err, fs.ErrNotExist) {
				oldName = "/dev/null"
			} else if err != nil {
				return fmt.Errorf("reading %q: %w", name, err)
			}
			if _, err := io.Out.Write(diff.Diff(oldName, old, name, ov.files[abs(name)])); err != nil {
				return err
			}
		}
		if len(ov.order) == 0 {
			fmt.Fprintln(io.Err, "cachecheck: no mechanical fixes")
		}
		return failOn(o.failOn.String(), orig)
	}
	if err := writeFiles(ov); err != nil {
		return err
	}
	if applied > 0 {
		fmt.Fprintf(io.Err, "cachecheck: fixed %d %s: wrote %s\n", applied, plural(applied, "finding", "findings"), strings.Join(ov.order, ", "))
	}
	if err := renderFindings(io.Out, o.format.String(), findings); err != nil {
		return err
	}
	if len(left) > 0 && o.failOn.String() != "none" {
		return &ExitError{Code: ExitFindings, Err: fmt.Errorf("the fixes of %s overlap others and were not applied in %d rounds; fix them by hand", strings.Join(left, ", "), maxFixRounds)}
	}
	return failOn(o.failOn.String(), findings)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func sortedNames(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// writeFiles writes every file of the overlay in place: each to a
// temporary file beside it, with the mode of the file it replaces (0644 for
// a new one), synced; then, when all are written, each renamed over its
// file. On an error before the renames nothing has changed.
func writeFiles(ov *overlay) error {
	type pending struct{ tmp, dst, name string }
	var done []pending
	cleanup := func() {
		for _, p := range done {
			os.Remove(p.tmp)
		}
	}
	for _, name := range ov.order {
		dst := filepath.FromSlash(name)
		if real, err := filepath.EvalSymlinks(dst); err == nil {
			dst = real
		}
		mode := fs.FileMode(0o644)
		if fi, err := os.Stat(dst); err == nil {
			mode = fi.Mode().Perm()
		} else if !errors.Is(err, fs.ErrNotExist) {
			cleanup()
			return fmt.Errorf("writing the fixed %q: %w", name, err)
		}
		tmp, err := writeTemp(dst, ov.files[abs(name)], mode)
		if err != nil {
			cleanup()
			return fmt.Errorf("writing the fixed %q: %w", name, err)
		}
		done = append(done, pending{tmp, dst, name})
	}
	for i, p := range done {
		if err := os.Rename(p.tmp, p.dst); err != nil {
			for _, q := range done[i:] {
				os.Remove(q.tmp)
			}
			var written []string
			for _, q := range done[:i] {
				written = append(written, q.name)
			}
			return fmt.Errorf("replacing %q with its fixed version: %w (already written: %v)", p.name, err, written)
		}
	}
	return nil
}

func writeTemp(dst string, data []byte, mode fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".cachecheck-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, bytes.NewReader(data))
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
