package gitfs

import (
	"io/fs"
	"path"
)

// ObjectID returns the git object id (the blob hash for a file or a
// symbolic link) of name and its git mode (0o644, 0o755, or fs.ModeSymlink),
// from the cached tree listing, without reading the content.
func (f *FS) ObjectID(name string) (string, fs.FileMode, error) {
	if err := f.check("objectid", name); err != nil {
		return "", 0, err
	}
	dirs, err := f.listing()
	if err != nil {
		return "", 0, &fs.PathError{Op: "objectid", Path: f.rev + ":" + name, Err: err}
	}
	for _, e := range dirs[path.Dir(name)] {
		if e.name == path.Base(name) {
			return e.oid, e.mode, nil
		}
	}
	return "", 0, &fs.PathError{Op: "objectid", Path: f.rev + ":" + name, Err: fs.ErrNotExist}
}

// SubFS is the subtree of a revision under one directory. Unlike fs.Sub, it
// keeps ObjectID, so comparing two revisions need not read every file.
type SubFS struct {
	fs.FS
	f   *FS
	dir string
}

// Sub returns the subtree under dir ("." for the whole tree).
func (f *FS) Sub(dir string) (*SubFS, error) {
	if dir == "." {
		return &SubFS{FS: f, f: f, dir: dir}, nil
	}
	sub, err := fs.Sub(f, dir)
	if err != nil {
		return nil, err
	}
	return &SubFS{FS: sub, f: f, dir: dir}, nil
}

// ObjectID is FS.ObjectID for a path inside the subtree.
func (s *SubFS) ObjectID(name string) (string, fs.FileMode, error) {
	if s.dir == "." {
		return s.f.ObjectID(name)
	}
	return s.f.ObjectID(path.Join(s.dir, name))
}

// ReadDir implements fs.ReadDirFS.
func (s *SubFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(s.FS, name) }

// ReadFile implements fs.ReadFileFS.
func (s *SubFS) ReadFile(name string) ([]byte, error) { return fs.ReadFile(s.FS, name) }

// Stat implements fs.StatFS.
func (s *SubFS) Stat(name string) (fs.FileInfo, error) { return fs.Stat(s.FS, name) }
