package cachekey

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// Result is a computed key together with the canonical inputs it hashes.
type Result struct {
	Key Key
	// Workspace reports whether the inputs came from a go.work file.
	Workspace bool
	// Inputs are the canonical input lines, in the order they were hashed.
	// Each line is a kind followed by space-separated fields:
	//
	//	schema 1
	//	vendor false
	//	work go 1.23
	//	work use ./api
	//	module . path example.com/app
	//	module . go 1.22
	//	module . toolchain go1.22.3
	//	module . require golang.org/x/text v0.14.0
	//	module . exclude golang.org/x/net v0.1.0
	//	module . replace example.com/sdk => ../sdk
	//	replaced ../sdk require golang.org/x/sys v0.15.0
	//	sum golang.org/x/text v0.14.0 h1:…
	//
	// Directories are relative to the module or workspace root, in slash
	// form, starting with "./" or "../".
	Inputs []string
}

// Option configures [Compute] and [ComputeDir].
type Option func(*options)

type options struct {
	display func(fsPath string) string
}

// WithDisplayPath sets how a path in the file system is shown in errors.
// The default shows it as it is.
func WithDisplayPath(f func(fsPath string) string) Option {
	return func(o *options) { o.display = f }
}

// ComputeDir computes the key of the Go module or workspace in the operating
// system directory dir. Errors name files relative to the current directory
// when they lie below it.
func ComputeDir(dir string, opts ...Option) (*Result, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving directory %q: %w", dir, err)
	}
	root := filepath.VolumeName(abs) + string(filepath.Separator)
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, fmt.Errorf("resolving directory %q: %w", dir, err)
	}
	cwd, _ := os.Getwd()
	display := func(p string) string {
		full := filepath.Join(root, filepath.FromSlash(p))
		if cwd != "" {
			if r, err := filepath.Rel(cwd, full); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
				return r
			}
		}
		return full
	}
	all := append([]Option{WithDisplayPath(display)}, opts...)
	return Compute(os.DirFS(root), filepath.ToSlash(rel), all...)
}

// Compute computes the key of the Go module or workspace in directory dir of
// fsys. A go.work file in dir makes it a workspace; otherwise dir must hold a
// go.mod file. Local replacements are resolved within fsys relative to the
// go.mod or go.work that names them.
func Compute(fsys fs.FS, dir string, opts ...Option) (*Result, error) {
	o := options{display: func(p string) string { return p }}
	for _, opt := range opts {
		opt(&o)
	}
	c := &computer{fsys: fsys, root: path.Clean(dir), display: o.display, replaced: map[string]bool{}}
	if err := c.compute(); err != nil {
		return nil, err
	}
	// Every section is sorted, so the order of lines and blocks in the
	// files never matters.
	c.lines.head = sortedUnique(c.lines.head)
	c.lines.replaced = sortedUnique(c.lines.replaced)
	c.lines.sums = sortedUnique(c.lines.sums)
	var all []string
	all = append(all, fmt.Sprintf("schema %d", Schema), fmt.Sprintf("vendor %t", c.vendor))
	all = append(all, c.lines.head...)
	all = append(all, c.lines.replaced...)
	all = append(all, c.lines.sums...)
	return &Result{
		Key:       keyOf([]byte(strings.Join(all, "\n") + "\n")),
		Workspace: c.workspace,
		Inputs:    all,
	}, nil
}

type computer struct {
	fsys      fs.FS
	root      string // slash path of the module or workspace root in fsys
	display   func(string) string
	workspace bool
	vendor    bool
	replaced  map[string]bool // local replacement directories already read
	lines     struct {
		head     []string // work and module lines
		replaced []string // replaced-module lines
		sums     []string // sum lines, unsorted until the end
	}
}

// name returns the display name of a path relative to the root.
func (c *computer) name(rel string) string {
	return c.display(path.Join(c.root, rel))
}

// readFile reads the file at rel, relative to the root; a missing file
// returns an error wrapping fs.ErrNotExist and naming it.
func (c *computer) readFile(rel string) ([]byte, error) {
	p := path.Join(c.root, rel)
	if !fs.ValidPath(p) {
		return nil, fmt.Errorf("%s lies outside the file system the key is computed in", c.name(rel))
	}
	data, err := fs.ReadFile(c.fsys, p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.name(rel), unwrapPathError(err))
	}
	return data, nil
}

// unwrapPathError drops the *fs.PathError layer, whose message repeats the
// file system's own path, keeping its cause.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *computer) exists(rel string) bool {
	p := path.Join(c.root, rel)
	if !fs.ValidPath(p) {
		return false
	}
	_, err := fs.Stat(c.fsys, p)
	return err == nil
}

// present reports whether the file at rel exists; an error other than
// its absence (a symbolic link loop, a permission) is returned, naming it.
func (c *computer) present(rel string) (bool, error) {
	p := path.Join(c.root, rel)
	if !fs.ValidPath(p) {
		return false, nil
	}
	_, err := fs.Stat(c.fsys, p)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("reading %s: %w", c.name(rel), unwrapPathError(err))
}

func (c *computer) compute() error {
	if !c.exists(".") {
		return fmt.Errorf("directory %s does not exist", c.name("."))
	}
	if ok, err := c.present("go.work"); err != nil {
		return err
	} else if ok {
		c.workspace = true
		return c.computeWork()
	}
	if ok, err := c.present("go.mod"); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("no go.mod or go.work in %s: not a Go module; run 'go mod init' there, or name the module's directory", c.name("."))
	}
	c.vendor = c.exists("vendor/modules.txt")
	f, err := c.module(".")
	if err != nil {
		return err
	}
	data, err := c.readFile("go.sum")
	if errors.Is(err, fs.ErrNotExist) {
		if len(f.Require) > 0 {
			return fmt.Errorf("%s: missing, but %s has requirements: run 'go mod tidy' to create it", c.name("go.sum"), c.name("go.mod"))
		}
		return nil
	}
	if err != nil {
		return err
	}
	return c.sums("go.sum", data)
}

func (c *computer) computeWork() error {
	data, err := c.readFile("go.work")
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(c.name("go.work"), data, nil)
	if err != nil {
		return err
	}
	c.vendor = c.exists("vendor/modules.txt")
	if wf.Go != nil {
		c.add("work go " + wf.Go.Version)
	}
	if wf.Toolchain != nil {
		c.add("work toolchain " + wf.Toolchain.Name)
	}
	var uses []string
	for _, u := range wf.Use {
		uses = append(uses, localDir(".", u.Path))
	}
	slices.Sort(uses)
	uses = slices.Compact(uses)
	for _, u := range uses {
		c.add("work use " + u)
	}
	for _, r := range wf.Replace {
		if err := c.replace("work", ".", "go.work", r); err != nil {
			return err
		}
	}
	if len(wf.Use) == 0 {
		return fmt.Errorf("%s: no use directives: add the workspace's modules with 'go work use DIR'", c.name("go.work"))
	}
	for _, u := range wf.Use {
		dir := localDir(".", u.Path)
		if !c.exists(path.Join(dir, "go.mod")) {
			return fmt.Errorf("%s:%d: use %s: %s does not exist", c.name("go.work"), u.Syntax.Start.Line, u.Path, c.name(path.Join(dir, "go.mod")))
		}
	}
	for _, dir := range uses {
		if _, err := c.module(dir); err != nil {
			return err
		}
		data, err := c.readFile(path.Join(dir, "go.sum"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // in a workspace, go.work.sum and the other modules' go.sum may hold the sums
		}
		if err != nil {
			return err
		}
		if err := c.sums(path.Join(dir, "go.sum"), data); err != nil {
			return err
		}
	}
	data, err = c.readFile("go.work.sum")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.sums("go.work.sum", data)
}

// module adds the lines of the main module in directory dir (relative to the
// root, "." or starting with "./" or "../").
func (c *computer) module(dir string) (*modfile.File, error) {
	rel := path.Join(dir, "go.mod")
	data, err := c.readFile(rel)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(c.name(rel), data, nil)
	if err != nil {
		return nil, err
	}
	if f.Module == nil {
		// The go command refuses a main module without a path.
		return nil, fmt.Errorf("%s: no module line; add one, as with 'go mod edit -module=example.com/m %s'", c.name(rel), c.name(rel))
	}
	if err := module.CheckImportPath(f.Module.Mod.Path); err != nil {
		// ... or with a path it cannot import from.
		return nil, fmt.Errorf("%s:%d: module %q: %v; fix the module line", c.name(rel), f.Module.Syntax.Start.Line, f.Module.Mod.Path, unwrapModuleError(err))
	}
	scope := "module " + dir
	c.modLines(scope, f)
	for _, r := range f.Replace {
		if err := c.replace(scope, dir, rel, r); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// modLines adds the lines of f that are common to main and replaced modules.
func (c *computer) modLines(scope string, f *modfile.File) {
	var lines []string
	if f.Module != nil {
		lines = append(lines, scope+" path "+f.Module.Mod.Path)
	}
	if f.Go != nil {
		lines = append(lines, scope+" go "+f.Go.Version)
	}
	if f.Toolchain != nil {
		lines = append(lines, scope+" toolchain "+f.Toolchain.Name)
	}
	for _, r := range f.Require {
		lines = append(lines, scope+" require "+r.Mod.Path+" "+r.Mod.Version)
	}
	for _, x := range f.Exclude {
		lines = append(lines, scope+" exclude "+x.Mod.Path+" "+x.Mod.Version)
	}
	if strings.HasPrefix(scope, "replaced ") {
		c.lines.replaced = append(c.lines.replaced, lines...)
	} else {
		c.lines.head = append(c.lines.head, lines...)
	}
}

// replace adds the line of a replace directive found in file (relative to the
// root) of the module or workspace in dir, and, for a replacement by a local
// directory, that directory's go.mod.
func (c *computer) replace(scope, dir, file string, r *modfile.Replace) error {
	old := r.Old.Path
	if r.Old.Version != "" {
		old += " " + r.Old.Version
	}
	if !modfile.IsDirectoryPath(r.New.Path) {
		c.add(scope + " replace " + old + " => " + r.New.Path + " " + r.New.Version)
		return nil
	}
	local := localDir(dir, r.New.Path)
	c.add(scope + " replace " + old + " => " + local)
	if c.replaced[local] {
		return nil
	}
	c.replaced[local] = true
	where := fmt.Sprintf("%s:%d: replace %s => %s", c.name(file), r.Syntax.Start.Line, r.Old.Path, r.New.Path)
	if path.IsAbs(r.New.Path) || filepath.IsAbs(r.New.Path) {
		return fmt.Errorf("%s: absolute replacement directories are not supported; use a path relative to the go.mod", where)
	}
	if !fs.ValidPath(path.Join(c.root, local)) {
		return fmt.Errorf("%s: directory %s lies outside the file system the key is computed in", where, c.name(local))
	}
	if ok, err := c.present(local); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	} else if !ok {
		return fmt.Errorf("%s: directory %s does not exist", where, c.name(local))
	}
	gomod := path.Join(local, "go.mod")
	data, err := c.readFile(gomod)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %s does not exist; a replacement directory needs a go.mod", where, c.name(gomod))
	}
	if err != nil {
		return err
	}
	// The go command reads a replacement's go.mod leniently: only its
	// module, go and require lines matter, its replace and exclude lines
	// are ignored.
	f, err := modfile.ParseLax(c.name(gomod), data, nil)
	if err != nil {
		return err
	}
	c.modLines("replaced "+local, f)
	return nil
}

func (c *computer) sums(rel string, data []byte) error {
	entries, err := ParseSum(c.name(rel), data)
	if err != nil {
		return err
	}
	for _, e := range entries {
		c.lines.sums = append(c.lines.sums, "sum "+e.String())
	}
	return nil
}

func (c *computer) add(line string) { c.lines.head = append(c.lines.head, line) }

// localDir returns the cleaned slash path of the directory p named in the
// go.mod or go.work of dir, relative to the root, with a "./" prefix unless
// it starts with "..".
func localDir(dir, p string) string {
	j := path.Join(dir, filepath.ToSlash(p))
	if j == "." || j == ".." || strings.HasPrefix(j, "../") {
		return j
	}
	return "./" + j
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// unwrapModuleError drops the path that module.CheckImportPath repeats.
func unwrapModuleError(err error) error {
	var ie *module.InvalidPathError
	if errors.As(err, &ie) {
		return ie.Err
	}
	return err
}
