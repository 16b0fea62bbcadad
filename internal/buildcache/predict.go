package buildcache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/internal/proc"
)

// Compile is what a go build FROM a deps image compiles and links, as
// [PredictCompile] foresees it.
type Compile struct {
	// Packages are the import paths of the packages it compiles, sorted:
	// what go build -v lists.
	Packages []string
	// Links counts the main packages among the build's package
	// arguments, which it links.
	Links int
	// Revision is the commit whose main module packages the image holds
	// ([WithImageMain]), "" for none.
	Revision string
}

// WithImageMain says, to [PredictCompile], that the image also holds the
// main module's packages m lists, compiled at m's commit (warm
// --build-cache=all).
func WithImageMain(m *MainPublished) Option {
	return func(o *options) error { o.imageMain = m; return nil }
}

// PredictCompile predicts what go build of patterns (the package
// arguments of a Dockerfile's go build, "." when none), run in the module
// at dir with the settings s, compiles FROM a deps image whose build cache
// was compiled for s: the main module's packages among the build's
// dependencies, which the build cache does not hold, and the links of its
// main packages. The dependencies' packages are taken to be in the build
// cache, as warm compiles every dependency of the module's main packages;
// one the module imports only since the warm would be compiled too.
//
// It lists the packages with the go command here (go list -e -deps) in
// the environment a compile for s gets (GOOS, GOARCH, GOAMD64,
// CGO_ENABLED, GOEXPERIMENT, GOPROXY=off, GOTOOLCHAIN=local unless the
// environment sets it) and with the tags and flags of s, so it needs no
// network: a dependency missing from the module cache only ends the
// walk there, and no dependency imports the main module's packages.
//
// With [WithImageMain], the image holds the main module's packages
// compiled at a commit: a package compiles only when it is a main package
// (warm compiles none), is not among the image's, has a file that differs
// between that commit and the work tree (git diff, untracked files too:
// its directory's Go, assembly, C and other source files, and its
// embedded files), or imports a package that compiles; when go.mod,
// go.sum or go.work differ, every one. The commit must be in the clone:
// a shallow one may need 'git fetch --depth=1 origin COMMIT'.
func PredictCompile(ctx context.Context, dir string, s Settings, patterns []string, opts ...Option) (*Compile, error) {
	o := options{goCmd: "go", env: os.Environ(), stderr: io.Discard}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving directory %q: %w", dir, err)
	}
	env := settingsEnv(o.env, s)
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	r := &runner{o: o, dir: absDir, env: env}
	args := append([]string{"list", "-e", "-deps", "-json=ImportPath,Name,DepOnly,Dir,Module,Imports,EmbedFiles,Error"}, buildFlags(s)...)
	args = append(args, "--")
	out, err := r.run(ctx, append(args, patterns...)...)
	if err != nil {
		return nil, err
	}
	var changed *changedFiles
	if m := o.imageMain; m != nil {
		if changed, err = changedSince(ctx, absDir, m.Revision.Commit); err != nil {
			return nil, err
		}
	}
	c := &Compile{Packages: []string{}}
	// In dependency order: a package comes after those it imports.
	compiles := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p struct {
			ImportPath, Name, Dir string
			DepOnly               bool
			Module                *struct{ Main bool }
			Imports, EmbedFiles   []string
			Error                 *struct{ Err string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list in %s: %w", absDir, err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list in %s: %s: %s", absDir, p.ImportPath, p.Error.Err)
		}
		if changed != nil && p.Name != "main" && slices.Contains(o.imageMain.List, p.ImportPath) && !changed.touch(p.Dir, p.EmbedFiles) &&
			!slices.ContainsFunc(p.Imports, func(i string) bool { return compiles[i] }) {
			continue // in the image, and nothing it is built from changed
		}
		compiles[p.ImportPath] = true
		c.Packages = append(c.Packages, p.ImportPath)
		if p.Name == "main" && !p.DepOnly {
			c.Links++
		}
	}
	if changed != nil {
		c.Revision = o.imageMain.Revision.Commit
	}
	if len(c.Packages) == 0 && changed == nil {
		return nil, fmt.Errorf("go list in %s: no package of the main module matches %s", absDir, strings.Join(patterns, " "))
	}
	slices.Sort(c.Packages)
	return c, nil
}

// changedFiles are the files of a work tree that differ from a commit,
// as absolute paths; all is set when the module files differ.
type changedFiles struct {
	files map[string]bool
	dirs  map[string]bool // the directories of files
	all   bool
}

// sourceExts are the extensions of the files in a package's directory
// that may enter its compile: Go, assembly, cgo's C, C++, Fortran,
// SWIG and headers, and syso objects. A file the package does not use
// (a build tag) counts too: that is the safe side.
var sourceExts = []string{".go", ".s", ".S", ".sx", ".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".f", ".F", ".for", ".f90", ".m", ".swig", ".swigcxx", ".syso"}

// touch reports whether a changed file is one of a package's in dir: a
// source file in dir itself, or one of its embedded files.
func (c *changedFiles) touch(dir string, embeds []string) bool {
	if c.all {
		return true
	}
	if c.dirs[dir] {
		for f := range c.files {
			if filepath.Dir(f) == dir && slices.Contains(sourceExts, filepath.Ext(f)) {
				return true
			}
		}
	}
	for _, e := range embeds {
		if c.files[filepath.Join(dir, filepath.FromSlash(e))] {
			return true
		}
	}
	return false
}

// changedSince lists the files under dir, a directory of a git work tree,
// that differ from commit: changed, added, deleted or untracked (not
// ignored).
func changedSince(ctx context.Context, dir, commit string) (*changedFiles, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	git := func(args ...string) ([]string, error) {
		cmd := proc.Command(ctx, "git", append([]string{"-C", dir}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git %s in %s: %v: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
		}
		return strings.FieldsFunc(string(out), func(r rune) bool { return r == 0 }), nil
	}
	if _, err := git("cat-file", "-e", commit+"^{commit}"); err != nil {
		return nil, fmt.Errorf("the image's main module packages are of commit %s, which this clone lacks (a shallow clone? git fetch --depth=1 origin %s): %w", commit, commit, err)
	}
	// The top of the work tree as dir names it (go list's directories
	// do), not as git resolves it.
	prefix, err := git("rev-parse", "--show-prefix")
	if err != nil || len(prefix) != 1 {
		return nil, fmt.Errorf("finding the top of the work tree of %s: %v", dir, err)
	}
	root := dir
	for range strings.Count(strings.TrimSpace(prefix[0]), "/") {
		root = filepath.Dir(root)
	}
	diff, err := git("diff", "--name-only", "-z", "--no-renames", commit, "--", ".")
	if err != nil {
		return nil, err
	}
	untracked, err := git("ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--", ".")
	if err != nil {
		return nil, err
	}
	c := &changedFiles{files: map[string]bool{}, dirs: map[string]bool{}}
	for _, name := range append(diff, untracked...) {
		f := filepath.Join(root, filepath.FromSlash(name))
		c.files[f] = true
		c.dirs[filepath.Dir(f)] = true
		switch filepath.Base(f) {
		case "go.mod", "go.sum", "go.work", "go.work.sum":
			c.all = true
		}
	}
	return c, nil
}
