package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckWritable checks, cheaply, that a Write to t can create its files:
// for tarball:FILE, that FILE's directory exists and takes a new file, and
// that FILE is not a directory; for oci:DIR, that DIR (or the nearest
// existing directory above it, where Write creates it) takes a new file.
// It creates and removes a probe file. Run it before work that a failing
// Write would waste, such as downloading the modules. A registry is not
// probed: Write finds out whether it accepts the push.
func CheckWritable(t Target) error {
	switch t := t.(type) {
	case *tarballTarget:
		if fi, err := os.Stat(t.file); err == nil && fi.IsDir() {
			return fmt.Errorf("target %s: %s is a directory; name a file, as in tarball:%s", t.spec, t.file, filepath.Join(t.file, "deps.tar"))
		}
		dir := filepath.Dir(t.file)
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("target %s: directory %s does not exist; create it, or name a file in an existing directory", t.spec, dir)
		case err != nil:
			return fmt.Errorf("target %s: %w", t.spec, err)
		case !fi.IsDir():
			return fmt.Errorf("target %s: %s is not a directory", t.spec, dir)
		}
		return probe(t.spec, dir)
	case *layoutTarget:
		dir := t.dir
		for {
			fi, err := os.Stat(dir)
			if err == nil {
				if !fi.IsDir() {
					return fmt.Errorf("target %s: %s is not a directory; name a directory for the OCI layout", t.spec, dir)
				}
				return probe(t.spec, dir)
			}
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				return fmt.Errorf("target %s: %w", t.spec, err)
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return fmt.Errorf("target %s: %w", t.spec, err)
			}
			dir = parent
		}
	}
	return nil
}

// probe creates and removes a file in dir.
func probe(spec, dir string) error {
	f, err := os.CreateTemp(dir, ".cachecheck-probe-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("target %s: cannot create files in %s: %v; choose a directory you can write to", spec, dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
