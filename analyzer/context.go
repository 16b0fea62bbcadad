package analyzer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Load reads the Dockerfile and the .dockerignore of the build context
// ctxFS (a directory through os.DirFS, or a git revision through gitfs) and
// parses them. The context's files are listed on first use.
func Load(ctxFS fs.FS, opts ...LoadOption) (*Build, error) {
	o, err := newLoadOptions(opts)
	if err != nil {
		return nil, err
	}
	dfs := o.dockerfileFS
	if dfs == nil {
		dfs = ctxFS
	}
	name := o.displayName
	if name == "" {
		name = o.dockerfile
	}
	data, err := fs.ReadFile(dfs, o.dockerfile)
	if err != nil {
		return nil, fmt.Errorf("reading Dockerfile %q: %w", name, err)
	}
	b, err := parse(name, data, o)
	if err != nil {
		return nil, err
	}
	b.Context = ctxFS
	b.ignoreDefault = path.Join(o.contextName, ".dockerignore")
	// BuildKit: "<Dockerfile>.dockerignore" beside the Dockerfile first,
	// then .dockerignore at the root of the context.
	candidates := []struct {
		fsys    fs.FS
		name    string
		display string
	}{
		{dfs, o.dockerfile + ".dockerignore", name + ".dockerignore"},
		{ctxFS, ".dockerignore", path.Join(o.contextName, ".dockerignore")},
	}
	for _, c := range candidates {
		data, err := fs.ReadFile(c.fsys, c.name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %q: %w", c.display, err)
		}
		ig, err := parseIgnore(c.display, data)
		if err != nil {
			return nil, err
		}
		b.Ignore, b.IgnoreFile = ig, c.display
		break
	}
	return b, nil
}

// Ignore is a parsed .dockerignore file.
type Ignore struct {
	// Patterns are the patterns in file order, as ignorefile reads them
	// (cleaned, "!" kept for exceptions).
	Patterns []string
	pm       *patternmatcher.PatternMatcher
	lines    int // the lines of the file, for edits that append
}

// ParseIgnore parses .dockerignore text with Docker's own reader and
// matcher. Its errors are *ParseError values naming ".dockerignore" and
// the line.
func ParseIgnore(data []byte) (*Ignore, error) {
	return parseIgnore(".dockerignore", data)
}

// maxIgnorePatterns bounds the patterns of a .dockerignore: every file of
// the context is matched against each.
const maxIgnorePatterns = 10000

func parseIgnore(name string, data []byte) (*Ignore, error) {
	// ignorefile.ReadAll gives neither the line of a pattern nor of a
	// line too long for it; read the lines here and hand each to it, so
	// that its rules (comments, BOM, cleaning) apply unchanged.
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	var patterns []string
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line > 1 {
			// ReadAll strips a BOM from its first line only: give it
			// a comment line first.
			text = append([]byte("#\n"), text...)
		}
		ps, err := ignorefile.ReadAll(bytes.NewReader(text))
		if err != nil {
			return nil, &ParseError{File: name, Line: line, Err: err}
		}
		for _, p := range ps {
			if err := checkIgnorePattern(p); err != nil {
				return nil, &ParseError{File: name, Line: line, Err: fmt.Errorf("pattern %s: %v; fix or remove the pattern", quoteShort(p), err)}
			}
		}
		patterns = append(patterns, ps...)
		if len(patterns) > maxIgnorePatterns {
			return nil, &ParseError{File: name, Line: line, Err: fmt.Errorf("more than %d patterns; cachecheck reads .dockerignore files of up to %d patterns", maxIgnorePatterns, maxIgnorePatterns)}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = errors.New("line longer than 64 KiB, which Docker's .dockerignore reader refuses")
		}
		return nil, &ParseError{File: name, Line: line + 1, Err: err}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, &ParseError{File: name, Err: fmt.Errorf("parsing ignore patterns: %w", err)}
	}
	return &Ignore{Patterns: patterns, pm: pm, lines: line}, nil
}

// checkIgnorePattern reports the error patternmatcher gives for pattern p,
// when it builds the matcher or when it first matches a path with it.
func checkIgnorePattern(p string) error {
	if why := scannerTrouble(p); why != "" {
		// patternmatcher's scanner would print errors to stderr.
		return errors.New(strings.TrimPrefix(why, "is "))
	}
	pm, err := patternmatcher.New([]string{p})
	if err != nil {
		return err
	}
	_, err = pm.MatchesOrParentMatches("a/b")
	return err
}

// Excluded reports whether the context path name (slash-separated,
// relative) is left out of the build context. A nil Ignore excludes
// nothing.
func (ig *Ignore) Excluded(name string) bool {
	if ig == nil || len(ig.Patterns) == 0 {
		return false
	}
	m, err := ig.pm.MatchesOrParentMatches(name)
	return err == nil && m
}

// Excluded reports whether the context path name is left out by the
// .dockerignore file.
func (b *Build) Excluded(name string) bool { return b.Ignore.Excluded(name) }

// Files returns the regular files and symbolic links of the build context
// that the .dockerignore lets through, as sorted slash-separated paths. The
// listing is read once and cached.
func (b *Build) Files() ([]string, error) {
	b.filesOnce.Do(func() { b.files, b.filesErr = b.walk() })
	return b.files, b.filesErr
}

func (b *Build) walk() ([]string, error) {
	if b.Context == nil {
		return nil, nil
	}
	var files []string
	var pm *patternmatcher.PatternMatcher
	var wm *walkMatcher
	if b.Ignore != nil && len(b.Ignore.Patterns) > 0 {
		pm = b.Ignore.pm
		wm = newWalkMatcher(pm)
	}
	skip := excludedDirSkipper(pm)
	parents := map[string]walkInfo{}
	err := fs.WalkDir(b.Context, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("listing build context: %w", err)
		}
		if p == "." {
			return nil
		}
		if wm != nil {
			m, info, err := wm.match(p, d.IsDir(), parents[path.Dir(p)])
			if err != nil {
				return fmt.Errorf("matching %q against .dockerignore: %w", p, err)
			}
			if d.IsDir() {
				if m && skip(p) {
					return fs.SkipDir
				}
				parents[p] = info
				return nil
			}
			if m {
				return nil
			}
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	return files, nil
}

// excludedDirSkipper returns whether an excluded directory of the context
// can be skipped, as BuildKit's context walker (fsutil's filterFS) decides:
// always when the .dockerignore has no "!" exception; when every exception
// is a plain path (no wildcard except a trailing "/*" or "/**"), unless
// one of them lies inside the directory; never when an exception has a
// wildcard that could match anywhere. A skipped directory cannot hold a
// file an exception brings back, so the listing is the same either way;
// skipping a .git or node_modules tree is what keeps a large context fast.
func excludedDirSkipper(pm *patternmatcher.PatternMatcher) func(dir string) bool {
	if pm == nil || !pm.Exclusions() {
		return func(string) bool { return true }
	}
	var exceptions []string
	for _, p := range pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		s := filepath.ToSlash(p.String())
		s = strings.TrimSuffix(s, "/**")
		s = strings.TrimSuffix(s, "/*")
		if strings.ContainsAny(s, `*[]?^\`) {
			return func(string) bool { return false }
		}
		exceptions = append(exceptions, s+"/")
	}
	return func(dir string) bool {
		for _, e := range exceptions {
			if strings.HasPrefix(e, dir+"/") {
				return false
			}
		}
		return true
	}
}

// Has reports whether the context holds the file name after .dockerignore.
func (b *Build) Has(name string) bool {
	files, err := b.Files()
	if err != nil {
		return false
	}
	_, ok := slices.BinarySearch(files, name)
	return ok
}

// Sources returns the context files that a COPY or ADD from the build
// context copies, after .dockerignore and --exclude, sorted. It returns nil
// for other instructions, --from copies, URLs and heredocs.
func (b *Build) Sources(in *Instruction) ([]string, error) {
	c, ok := in.Copy()
	if !ok || !c.FromContext() {
		return nil, nil
	}
	files, err := b.Files()
	if err != nil {
		return nil, err
	}
	var exclude *patternmatcher.PatternMatcher
	if len(c.Exclude) > 0 {
		if exclude, err = patternmatcher.New(c.Exclude); err != nil {
			return nil, fmt.Errorf("%s:%d: --exclude: %w", b.Dockerfile, in.Line, err)
		}
	}
	var out []string
	for _, src := range c.Sources {
		if isURL(src) {
			continue
		}
		out = append(out, matchSource(files, src)...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if exclude != nil {
		out = slices.DeleteFunc(out, func(f string) bool {
			m, err := exclude.MatchesOrParentMatches(f)
			return err == nil && m
		})
	}
	return out, nil
}

// CleanSource turns a COPY source into a context path: slash-separated,
// relative, "." for the whole context.
func CleanSource(src string) string {
	p := path.Clean("/" + strings.ReplaceAll(src, "\\", "/"))
	if p == "/" {
		return "."
	}
	return p[1:]
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@")
}

// matchSource returns the files of sorted list files that source src
// copies: the file itself, everything under a directory, or everything a
// wildcard matches (with directories copied whole).
func matchSource(files []string, src string) []string {
	p := CleanSource(src)
	if p == "." {
		return files
	}
	if !strings.ContainsAny(p, "*?[") {
		i, _ := slices.BinarySearch(files, p)
		var out []string
		for ; i < len(files); i++ {
			f := files[i]
			if f == p || strings.HasPrefix(f, p+"/") {
				out = append(out, f)
				continue
			}
			// Paths with p as a prefix but a byte below '/' ("a-b" after
			// "a") sort between "a" and "a/…"; skip them.
			if !strings.HasPrefix(f, p) {
				break
			}
		}
		return out
	}
	depth := strings.Count(p, "/")
	var out []string
	for _, f := range files {
		parts := strings.Split(f, "/")
		if len(parts) <= depth {
			continue
		}
		prefix := strings.Join(parts[:depth+1], "/")
		if ok, _ := path.Match(p, prefix); ok {
			out = append(out, f)
		}
	}
	return out
}

// Covers reports whether COPY source src copies the context path name
// (a file or a directory), whether or not name exists.
func Covers(src, name string) bool {
	p := CleanSource(src)
	if p == "." || p == name || strings.HasPrefix(name, p+"/") {
		return true
	}
	parts := strings.Split(name, "/")
	depth := strings.Count(p, "/")
	if len(parts) <= depth {
		return false
	}
	ok, _ := path.Match(p, strings.Join(parts[:depth+1], "/"))
	return ok
}
