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
