package modload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cachecheck/cachecheck/internal/envlist"
	"github.com/cachecheck/cachecheck/internal/goenv"
	"github.com/cachecheck/cachecheck/internal/proc"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// Module is one module the go command downloaded, as reported by
// `go mod download -json`. File names are absolute paths in the module cache.
type Module struct {
	Path     string // module path
	Version  string // module version
	Info     string // the .info file
	GoMod    string // the .mod file
	Zip      string // the .zip file
	Dir      string // the extracted tree
	Sum      string // checksum of the tree ("h1:…"), as the go command computed it
	GoModSum string // checksum of the go.mod file, as the go command computed it
	// Private reports whether the module path matches GOPRIVATE.
	Private bool
}

// String returns path@version.
func (m Module) String() string { return m.Path + "@" + m.Version }

// ModuleVersion returns the module's path and version.
func (m Module) ModuleVersion() module.Version {
	return module.Version{Path: m.Path, Version: m.Version}
}

// Result is what [Download] left in the module cache.
type Result struct {
	// GoModCache is the module cache the modules were downloaded into.
	GoModCache string
	// GoVersion is the go directive of go.work in a workspace, else of go.mod.
	GoVersion string
	// GoPrivate is the GOPRIVATE setting the go command used.
	GoPrivate string
	// GoEnv is the go command's module settings, go env file included.
	GoEnv *goenv.Env
	// Modules are the downloaded modules, sorted by path and version.
	Modules []Module
}

// Progress reports how far a download has come.
type Progress struct {
	Done  int   // modules whose zip is in the cache
	Total int   // modules expected, from go.sum; 0 when unknown
	Bytes int64 // bytes of zips in the cache
}

// Option configures [Download].
type Option func(*options) error

type options struct {
	goModCache string
	env        []string
	progress   func(Progress)
	stderr     io.Writer
	goCmd      string
	interval   time.Duration
	stall      time.Duration
}

// DefaultStallTimeout is how long `go mod download` may make no progress
// (no file of the module cache's download directory growing, none added)
// before it is abandoned: the go command bounds no fetch from a module proxy
// or a VCS host in time, so a stalled one would hang it for ever.
const DefaultStallTimeout = 5 * time.Minute

// StallError is a download abandoned because it made no progress.
type StallError struct {
	After   time.Duration
	GoProxy string // the GOPROXY the go command used
	Stderr  string // what the go command had printed
}

func (e *StallError) Error() string {
	msg := fmt.Sprintf("go mod download made no progress for %s (GOPROXY=%s): the module proxy or a version control host stopped answering; check GOPROXY and the network, then retry, or allow more time with --download-timeout", e.After, e.GoProxy)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += "\n" + s
	}
	return msg
}

// WithStallTimeout sets how long the go command may make no progress before
// Download abandons it with a [*StallError]; 0 waits for ever. The default
// is [DefaultStallTimeout].
func WithStallTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("stall timeout %s: want a positive duration, or 0 for none", d)
		}
		o.stall = d
		return nil
	}
}

// WithGoModCache sets the module cache to download into. It must be absent
// or empty. The default is a new temporary directory, which the caller
// removes when done (read-only: use [RemoveAll]); when Download fails, it
// removes that directory itself.
func WithGoModCache(dir string) Option {
	return func(o *options) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("resolving module cache %q: %w", dir, err)
		}
		o.goModCache = abs
		return nil
	}
}

// WithEnv sets the environment of the go command, in the form of
// [os.Environ], which is the default. GOMODCACHE is always replaced and
// GOTOOLCHAIN is set to "local" unless env sets it.
func WithEnv(env []string) Option {
	return func(o *options) error { o.env = slices.Clone(env); return nil }
}

// WithProgress sets a function called from time to time while modules
// download, and once at the end. The default reports nothing.
func WithProgress(f func(Progress)) Option {
	return func(o *options) error { o.progress = f; return nil }
}

// WithStderr sets where the go command's standard error goes as it runs,
// in addition to the error messages Download returns. The default discards it.
func WithStderr(w io.Writer) Option {
	return func(o *options) error { o.stderr = w; return nil }
}

// WithGoCommand sets the go command to run. The default is "go" from PATH.
func WithGoCommand(path string) Option {
	return func(o *options) error { o.goCmd = path; return nil }
}

// jsonModule is the JSON `go mod download -json` prints per module.
type jsonModule struct {
	Path, Version, Error, Info, GoMod, Zip, Dir, Sum, GoModSum string
}

// DownloadError is the failure of `go mod download`: the modules it named
// and the go command's own message.
type DownloadError struct {
	Modules []ModuleError // modules the go command reported errors for
	Stderr  string        // what the go command printed on standard error
	Err     error         // how the go command ended
	// GoEnv is the go command's module settings (nil when the download
	// failed before reading them).
	GoEnv *goenv.Env
}

// ModuleError is the go command's error about one module.
type ModuleError struct {
	Path, Version, Err string
}

func (e ModuleError) Error() string { return e.Path + "@" + e.Version + ": " + e.Err }

func (e *DownloadError) Error() string {
	var b strings.Builder
	b.WriteString("go mod download failed")
	msg := strings.TrimSpace(e.Stderr)
	// The first line says which module, for a reader of one line.
	if len(e.Modules) > 0 {
		b.WriteString(": " + e.Modules[0].Path + "@" + e.Modules[0].Version)
	} else if first, _, _ := strings.Cut(msg, "\n"); first != "" {
		b.WriteString(": " + strings.TrimPrefix(first, "go: "))
	}
	for _, m := range e.Modules {
		b.WriteString("\n\t" + m.Error())
	}
	if msg != "" {
		b.WriteString("\n\t" + strings.ReplaceAll(msg, "\n", "\n\t"))
	}
	if len(e.Modules) == 0 && msg == "" && e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if strings.Contains(msg, "missing go.sum entry") || strings.Contains(msg, "go mod tidy") || strings.Contains(msg, "updates to go.mod needed") {
		b.WriteString("\nrun 'go mod tidy' to update go.mod and go.sum, then run again")
	}
	return b.String()
}

func (e *DownloadError) Unwrap() error { return e.Err }

// Download runs `go mod download -json` in dir, the root of a module or of a
// workspace (a directory holding go.work), with a fresh private module cache,
// and returns the modules it downloaded. The go command sees the caller's
// environment (GOPROXY, GOPRIVATE, GONOPROXY, GONOSUMDB, GOFLAGS, GOINSECURE,
// netrc and git credentials), with GOMODCACHE replaced and GOTOOLCHAIN=local
// unless set. Any module error fails the download, naming path@version and
// the go command's message.
//
// The go command runs in a process group of its own, killed when ctx is
// done, and on Linux dies with the calling process (see [proc.Command]).
func Download(ctx context.Context, dir string, opts ...Option) (res *Result, err error) {
	o := options{env: os.Environ(), goCmd: "go", stderr: io.Discard, interval: 250 * time.Millisecond, stall: DefaultStallTimeout}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving directory %q: %w", dir, err)
	}
	goVersion, sumFiles, err := moduleFiles(absDir)
	if err != nil {
		return nil, err
	}
	before, err := snapshot(sumFiles)
	if err != nil {
		return nil, err
	}
	if o.goModCache == "" {
		o.goModCache, err = os.MkdirTemp("", "cachecheck-gomodcache-")
		if err != nil {
			return nil, fmt.Errorf("creating module cache: %w", err)
		}
		// A failed or interrupted download leaves nothing behind.
		defer func() {
			if err != nil {
				RemoveAll(o.goModCache)
			}
		}()
	} else if err := checkEmpty(o.goModCache); err != nil {
		return nil, err
	}
	env := envlist.Set(o.env, "GOMODCACHE", o.goModCache)
	if _, ok := envlist.Lookup(env, "GOTOOLCHAIN"); !ok {
		env = envlist.Set(env, "GOTOOLCHAIN", "local")
	}

	// Read once the settings the go command fetches with, go env file
	// included, for the results and the errors.
	goEnv, err := goenv.Read(ctx, o.goCmd, absDir, env)
	if err != nil {
		return nil, err
	}

	total := 0
	for _, f := range sumFiles {
		total += countZipSums(f)
	}

	var stdout, stderr bytes.Buffer
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := proc.Command(runCtx, o.goCmd, "mod", "download", "-json")
	cmd.Dir = absDir
	cmd.Env = env
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(&stderr, o.stderr)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if o.progress != nil || o.stall > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(min(o.interval, max(o.stall/4, time.Millisecond)))
			defer t.Stop()
			var last activity
			lastChange := time.Now()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					p, a := scanProgress(o.goModCache, total)
					if o.progress != nil {
						o.progress(p)
					}
					if a != last {
						last, lastChange = a, time.Now()
					} else if o.stall > 0 && time.Since(lastChange) >= o.stall {
						cancel(&StallError{After: o.stall, GoProxy: goEnv.GOPROXY})
						return
					}
				}
			}
		}()
	}
	waitErr := proc.Run(cmd)
	close(stop)
	wg.Wait()
	if se, ok := context.Cause(runCtx).(*StallError); ok && ctx.Err() == nil {
		restore(before)
		se.Stderr = stderr.String()
		return nil, se
	}

	// go mod download adds missing checksums to go.sum (unverified when
	// GOSUMDB is off) and may touch go.mod: put the user's files back and
	// refuse, since go.sum is what the download is verified against.
	if changed, err := restore(before); err != nil {
		return nil, err
	} else if len(changed) > 0 {
		return nil, &DownloadError{Stderr: strings.Join(changed, "\n"), GoEnv: goEnv}
	}
	mods, modErrs, parseErr := parseJSON(stdout.Bytes())
	if waitErr != nil || len(modErrs) > 0 {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("go mod download: %w", ctx.Err())
		}
		return nil, &DownloadError{Modules: modErrs, Stderr: stderr.String(), Err: waitErr, GoEnv: goEnv}
	}
	if parseErr != nil {
		return nil, fmt.Errorf("reading the output of go mod download -json: %w", parseErr)
	}
	res = &Result{GoModCache: o.goModCache, GoVersion: goVersion, GoPrivate: goEnv.GOPRIVATE, GoEnv: goEnv}
	for _, m := range mods {
		res.Modules = append(res.Modules, Module{
			Path: m.Path, Version: m.Version,
			Info: m.Info, GoMod: m.GoMod, Zip: m.Zip, Dir: m.Dir,
			Sum: m.Sum, GoModSum: m.GoModSum,
			Private: module.MatchPrefixPatterns(goEnv.GOPRIVATE, m.Path),
		})
	}
	slices.SortFunc(res.Modules, func(a, b Module) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	if o.progress != nil {
		p, _ := scanProgress(o.goModCache, total)
		p.Done, p.Total = len(res.Modules), len(res.Modules)
		o.progress(p)
	}
	return res, nil
}

// parseJSON reads the stream of JSON objects `go mod download -json` prints.
func parseJSON(data []byte) (mods []jsonModule, errs []ModuleError, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var m jsonModule
		if err := dec.Decode(&m); err == io.EOF {
			return mods, errs, nil
		} else if err != nil {
			return mods, errs, err
		}
		if m.Error != "" {
			errs = append(errs, ModuleError{Path: m.Path, Version: m.Version, Err: m.Error})
			continue
		}
		mods = append(mods, m)
	}
}

// moduleFiles returns the go directive of the module or workspace in dir and
// the go.sum files that list its checksums: go.work.sum and the go.sum of
// every used module in a workspace, go.sum in a module.
func moduleFiles(dir string) (goVersion string, sums []string, err error) {
	workFile := filepath.Join(dir, "go.work")
	data, err := os.ReadFile(workFile)
	switch {
	case err == nil:
		wf, err := modfile.ParseWork(workFile, data, nil)
		if err != nil {
			return "", nil, err
		}
		if wf.Go != nil {
			goVersion = wf.Go.Version
		}
		sums = append(sums, filepath.Join(dir, "go.work.sum"))
		for _, u := range wf.Use {
			d := u.Path
			if !filepath.IsAbs(d) {
				d = filepath.Join(dir, filepath.FromSlash(d))
			}
			sums = append(sums, filepath.Join(d, "go.sum"))
		}
		return goVersion, sums, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", nil, fmt.Errorf("reading %s: %w", workFile, err)
	}
	modFile := filepath.Join(dir, "go.mod")
	data, err = os.ReadFile(modFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("no go.mod or go.work in %s: not a Go module; run 'go mod init' there, or name the module's directory", dir)
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading %s: %w", modFile, err)
	}
	mf, err := modfile.ParseLax(modFile, data, nil)
	if err != nil {
		return "", nil, err
	}
	if mf.Go != nil {
		goVersion = mf.Go.Version
	}
	return goVersion, []string{filepath.Join(dir, "go.sum")}, nil
}

// snapshot reads the go.sum files and the go.mod or go.work files next to
// them; absent files map to nil.
func snapshot(sumFiles []string) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, sum := range sumFiles {
		names := []string{sum}
		switch filepath.Base(sum) {
		case "go.sum":
			names = append(names, filepath.Join(filepath.Dir(sum), "go.mod"))
		case "go.work.sum":
			names = append(names, filepath.Join(filepath.Dir(sum), "go.work"))
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			files[name] = data
		}
	}
	return files, nil
}

// restore writes back the files of a snapshot that changed and describes
// the changes: the go.sum lines added, or the file changed.
func restore(snap map[string][]byte) ([]string, error) {
	var changed []string
	names := make([]string, 0, len(snap))
	for name := range snap {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		old := snap[name]
		cur, err := os.ReadFile(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if bytes.Equal(old, cur) {
			continue
		}
		if strings.HasSuffix(name, ".sum") {
			had := map[string]bool{}
			for _, l := range strings.Split(string(old), "\n") {
				had[strings.TrimSpace(l)] = true
			}
			for _, l := range strings.Split(string(cur), "\n") {
				if l = strings.TrimSpace(l); l != "" && !had[l] {
					f := strings.Fields(l)
					if len(f) >= 2 {
						changed = append(changed, fmt.Sprintf("%s@%s: missing go.sum entry in %s", f[0], f[1], name))
					}
				}
			}
		} else {
			changed = append(changed, fmt.Sprintf("%s: go mod download changed it: go.mod and go.sum are not tidy", name))
		}
		if old == nil {
			err = os.Remove(name)
		} else {
			err = os.WriteFile(name, old, 0o644)
		}
		if err != nil {
			return nil, fmt.Errorf("restoring %s: %w", name, err)
		}
	}
	return changed, nil
}

// countZipSums counts the lines of a go.sum file that hash a module's
// content rather than its go.mod: the zips a download can fetch.
func countZipSums(file string) int {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 3 && !strings.HasSuffix(fields[1], "/go.mod") {
			n++
		}
	}
	return n
}

// activity is what a download has written so far: the files of the
// module cache's download directory, temporary ones included, and their
// bytes. It changes while the go command makes progress.
type activity struct {
	files int
	bytes int64
}

// scanProgress counts the zips in the module cache, and its activity.
func scanProgress(cache string, total int) (Progress, activity) {
	p := Progress{Total: total}
	var a activity
	_ = filepath.WalkDir(filepath.Join(cache, "cache", "download"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		a.files++
		a.bytes += info.Size()
		if strings.HasSuffix(path, ".zip") {
			p.Done++
			p.Bytes += info.Size()
		}
		return nil
	})
	if p.Total < p.Done {
		p.Total = p.Done
	}
	return p, a
}

func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading module cache %q: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("module cache %q is not empty: a deps image needs a fresh cache", dir)
	}
	return nil
}

// RemoveAll removes a module cache, whose directories the go command makes
// read-only.
func RemoveAll(dir string) error {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
