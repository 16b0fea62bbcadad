// Package gitfs reads the files of a git revision as an [io/fs.FS], without
// touching the work tree or the index.
package gitfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// FS is the tree of one commit. Paths are relative to the repository's top
// directory. It implements fs.ReadFileFS, fs.StatFS and fs.ReadDirFS.
type FS struct {
	ctx    context.Context
	repo   string // a directory inside the repository
	rev    string // the revision as given
	commit string // the full commit hash

	once    sync.Once // guards dirs and listErr, filled by listing
	dirs    map[string][]entry
	listErr error
}

// ErrNoRevision is returned (wrapped) by Open when the repository has no
// commit by the given name, and ErrNotRepository when the directory is not
// in a git repository: the revision was given wrong. Other errors of Open,
// such as a corrupt repository, are failures of the repository.
var (
	ErrNoRevision    = errors.New("no such commit")
	ErrNotRepository = errors.New("not in a git repository")
)

// Open returns the tree of revision rev of the git repository that contains
// directory dir. It fails when dir is not in a git repository or rev names
// no commit.
func Open(ctx context.Context, dir, rev string) (*FS, error) {
	switch {
	case strings.HasPrefix(rev, "-"):
		return nil, fmt.Errorf("git revision %q: must not start with '-': %w", rev, ErrNoRevision)
	case rev == "" || strings.IndexByte(rev, 0) >= 0:
		return nil, fmt.Errorf("git revision %q: %w", rev, ErrNoRevision)
	}
	f := &FS{ctx: ctx, repo: dir, rev: rev}
	if _, err := f.git(nil, "rev-parse", "--git-dir"); err != nil {
		if strings.Contains(err.Error(), "not a git repository") {
			return nil, fmt.Errorf("%s: %w", dir, ErrNotRepository)
		}
		return nil, fmt.Errorf("finding the git repository of %s: %w", dir, err)
	}
	out, err := f.git(nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return nil, f.revError()
	}
	f.commit = strings.TrimSpace(string(out))
	return f, nil
}

// revError explains why rev does not resolve to a commit: it names no
// object, it names a tree or blob, or the repository cannot read the
// object it names (or the object a suffix such as ~1 starts from).
func (f *FS) revError() error {
	noRev := fmt.Errorf("git revision %q in %s: %w", f.rev, f.repo, ErrNoRevision)
	if oid, ok := f.resolve(f.rev); ok {
		typ, err := f.git(nil, "cat-file", "-t", oid)
		if err != nil {
			return f.damaged(oid, err)
		}
		if t := strings.TrimSpace(string(typ)); t != "commit" && t != "tag" {
			return fmt.Errorf("git revision %q in %s names a %s, not a commit: %w", f.rev, f.repo, t, ErrNoRevision)
		}
		return noRev
	}
	// rev does not resolve: a missing name, or a suffix (~1, ^2) that
	// cannot be followed because the object it starts from is damaged.
	if i := strings.IndexAny(f.rev, "~^:@"); i > 0 {
		if oid, ok := f.resolve(f.rev[:i]); ok {
			if _, err := f.git(nil, "cat-file", "-t", oid); err != nil {
				return f.damaged(oid, err)
			}
		}
	}
	return noRev
}

// resolve returns the object id rev names, without reading the object.
func (f *FS) resolve(rev string) (string, bool) {
	out, err := f.git(nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev)
	return strings.TrimSpace(string(out)), err == nil
}

func (f *FS) damaged(oid string, err error) error {
	return fmt.Errorf("git revision %q in %s: the repository is damaged, run 'git fsck' there: reading object %s: %v", f.rev, f.repo, oid, err)
}

// Prefix returns the path of directory dir relative to the top of the git
// repository that contains it, in slash form ("." for the top itself).
func Prefix(ctx context.Context, dir string) (string, error) {
	f := &FS{ctx: ctx, repo: dir}
	out, err := f.git(nil, "rev-parse", "--show-prefix")
	if err != nil {
		return "", fmt.Errorf("finding the git repository of %s: %w", dir, err)
	}
	p := strings.TrimSuffix(strings.TrimSpace(string(out)), "/")
	if p == "" {
		p = "."
	}
	return p, nil
}

// Rev returns the revision as given to Open.
func (f *FS) Rev() string { return f.rev }

// Commit returns the full hash of the commit.
func (f *FS) Commit() string { return f.commit }

func (f *FS) git(stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(f.ctx, "git", args...)
	cmd.Dir = f.repo
	cmd.Env = append(cmd.Environ(), "LC_ALL=C") // messages in English: Open reads them
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			// One line: git writes a line per cause ("error: ...",
			// then "fatal: ...").
			return nil, fmt.Errorf("git %s: %s", args[0], strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " / ")), " "))
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return stdout.Bytes(), nil
}

// objectType returns "blob", "tree" or "commit" for the object at name, or
// fs.ErrNotExist.
func (f *FS) objectType(name string) (string, error) {
	spec := f.commit + ":" + name
	if name == "." {
		spec = f.commit + "^{tree}"
	}
	out, err := f.git(strings.NewReader(spec+"\n"), "cat-file", "--batch-check=%(objecttype) %(objectsize)")
	if err != nil {
		return "", err
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 || fields[len(fields)-1] == "missing" {
		return "", fs.ErrNotExist
	}
	return fields[0], nil
}

func (f *FS) check(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

// ReadFile implements fs.ReadFileFS.
func (f *FS) ReadFile(name string) ([]byte, error) {
	if err := f.check("read", name); err != nil {
		return nil, err
	}
	typ, err := f.objectType(name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: f.rev + ":" + name, Err: err}
	}
	if typ != "blob" {
		return nil, &fs.PathError{Op: "read", Path: f.rev + ":" + name, Err: errors.New("is a directory")}
	}
	data, err := f.git(nil, "cat-file", "blob", f.commit+":"+name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: f.rev + ":" + name, Err: err}
	}
	return data, nil
}

// Stat implements fs.StatFS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if err := f.check("stat", name); err != nil {
		return nil, err
	}
	typ, err := f.objectType(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: f.rev + ":" + name, Err: err}
	}
	return info{name: path.Base(name), dir: typ == "tree"}, nil
}

// Open implements fs.FS. Directories can be opened for Stat only.
func (f *FS) Open(name string) (fs.File, error) {
	fi, err := f.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return &file{info: fi.(info)}, nil
	}
	data, err := f.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &file{info: fi.(info), r: bytes.NewReader(data), size: int64(len(data))}, nil
}

type info struct {
	name string
	dir  bool
	size int64
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }

type file struct {
	info info
	r    *bytes.Reader
	size int64
}

func (f *file) Stat() (fs.FileInfo, error) {
	i := f.info
	i.size = f.size
	return i, nil
}

func (f *file) Read(p []byte) (int, error) {
	if f.r == nil {
		return 0, &fs.PathError{Op: "read", Path: f.info.name, Err: errors.New("is a directory")}
	}
	return f.r.Read(p)
}

func (f *file) Close() error { return nil }

// entry is one path of the tree listing.
type entry struct {
	name string // base name
	mode fs.FileMode
	size int64
	oid  string // the object id (blob hash)
}

// listing reads the whole tree once with 'git ls-tree -r -t -z --long' and
// groups the entries by directory; later calls reuse it.
func (f *FS) listing() (map[string][]entry, error) {
	f.once.Do(func() {
		out, err := f.git(nil, "ls-tree", "-r", "-t", "-z", "--long", "--full-tree", f.commit)
		if err != nil {
			f.listErr = err
			return
		}
		f.dirs = parseTree(out)
	})
	return f.dirs, f.listErr
}

// ReadDir implements fs.ReadDirFS, from one listing of the whole tree that
// is read on the first call and cached. Entries are sorted by name and
// carry the git mode: 0o755 for executables, fs.ModeSymlink for symbolic
// links, 0o644 otherwise. Submodules are left out.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.check("readdir", name); err != nil {
		return nil, err
	}
	dirs, err := f.listing()
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: f.rev + ":" + name, Err: err}
	}
	ents, ok := dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: f.rev + ":" + name, Err: fs.ErrNotExist}
	}
	out := make([]fs.DirEntry, len(ents))
	for i, e := range ents {
		out[i] = dirEntry(e)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

type dirEntry entry

func (e dirEntry) Name() string               { return e.name }
func (e dirEntry) IsDir() bool                { return e.mode.IsDir() }
func (e dirEntry) Type() fs.FileMode          { return e.mode.Type() }
func (e dirEntry) Info() (fs.FileInfo, error) { return entryInfo(e), nil }

type entryInfo entry

func (i entryInfo) Name() string       { return i.name }
func (i entryInfo) Size() int64        { return i.size }
func (i entryInfo) Mode() fs.FileMode  { return i.mode }
func (i entryInfo) ModTime() time.Time { return time.Time{} }
func (i entryInfo) IsDir() bool        { return i.mode.IsDir() }
func (i entryInfo) Sys() any           { return nil }

// parseTree groups the records of 'git ls-tree -r -t -z --long' by
// directory. Records it cannot read are skipped.
func parseTree(out []byte) map[string][]entry {
	dirs := map[string][]entry{".": nil}
	for _, rec := range bytes.Split(out, []byte{0}) {
		// <mode> SP <type> SP <object> SP+ <size> TAB <path>
		meta, name, ok := strings.Cut(string(rec), "\t")
		if !ok || name == "." || !fs.ValidPath(name) {
			continue // not a path of the tree: "." would make ReadDir(".") hold itself
		}
		fields := strings.Fields(meta)
		if len(fields) != 4 {
			continue
		}
		e := entry{name: path.Base(name), oid: fields[2]}
		switch fields[0] {
		case "040000":
			e.mode = fs.ModeDir | 0o755
			if _, ok := dirs[name]; !ok {
				dirs[name] = nil // a directory with no entries yet
			}
		case "100755":
			e.mode = 0o755
		case "120000":
			e.mode = fs.ModeSymlink | 0o777
		case "160000":
			continue // a submodule: its content is not in this tree
		default:
			e.mode = 0o644
		}
		if fields[3] != "-" {
			fmt.Sscan(fields[3], &e.size)
		}
		dirs[path.Dir(name)] = append(dirs[path.Dir(name)], e)
	}
	return dirs
}
