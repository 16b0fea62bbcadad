package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cachecheck/cachecheck/internal/prune"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Collector is a Target that can collect its garbage: an OCI layout. A
// registry collects its own (distribution: 'registry garbage-collect').
type Collector interface {
	Target
	// GC removes from the layout, under its locks, the files p chooses
	// among its blobs that no tag of index.json needs and its temporary
	// files (left by a write that was killed), and returns them; with
	// dryRun it removes nothing. Broken lists the tags that name missing
	// blobs, which the next warm of their key rebuilds.
	GC(ctx context.Context, p prune.GCPolicy, dryRun bool) (removed []prune.File, broken []string, err error)
}

// lockAll takes both locks of the layout, the blobs lock first (the order
// Write takes them in), for what removes blobs.
func (t *layoutTarget) lockAll() (func(), error) {
	if err := os.MkdirAll(t.dir, 0o777); err != nil {
		return nil, fmt.Errorf("locking OCI layout %q: %w", t.dir, err)
	}
	unlockBlobs, err := lockFile(filepath.Join(t.dir, blobsLock), true)
	if err != nil {
		return nil, fmt.Errorf("locking OCI layout %q: %w", t.dir, err)
	}
	unlock, err := lockFile(filepath.Join(t.dir, indexLock), true)
	if err != nil {
		unlockBlobs()
		return nil, fmt.Errorf("locking OCI layout %q: %w", t.dir, err)
	}
	return func() { unlock(); unlockBlobs() }, nil
}

func (t *layoutTarget) GC(ctx context.Context, p prune.GCPolicy, dryRun bool) ([]prune.File, []string, error) {
	if _, err := os.Stat(filepath.Join(t.dir, "index.json")); err != nil {
		return nil, nil, fmt.Errorf("OCI layout %q: %w", t.dir, err)
	}
	unlock, err := t.lockAll()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	im, err := t.readIndex()
	if err != nil {
		return nil, nil, err
	}
	reachable := map[string]bool{}
	var broken []string
	for _, d := range im.Manifests {
		ok := true
		if err := t.reach(d, reachable, &ok); err != nil {
			return nil, nil, err
		}
		if !ok {
			broken = append(broken, d.Annotations[refNameAnnotation])
		}
	}
	files, err := t.files()
	if err != nil {
		return nil, nil, err
	}
	p.Reachable = reachable
	garbage := prune.Garbage(files, p)
	if dryRun {
		return garbage, broken, nil
	}
	var removed []prune.File
	for _, f := range garbage {
		if err := ctx.Err(); err != nil {
			return removed, broken, err
		}
		if err := os.Remove(filepath.Join(t.dir, filepath.FromSlash(f.Path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, broken, fmt.Errorf("removing %s from OCI layout %q: %w", f.Path, t.dir, err)
		}
		removed = append(removed, f)
	}
	return removed, broken, nil
}

// reach adds to reachable the digest of d and of every blob it needs that
// the layout holds; *ok becomes false when one is missing or damaged.
func (t *layoutTarget) reach(d v1.Descriptor, reachable map[string]bool, ok *bool) error {
	reachable[d.Digest.String()] = true
	if !d.MediaType.IsIndex() && !d.MediaType.IsImage() {
		if has, err := t.hasBlob(d); err != nil {
			return err
		} else if !has {
			*ok = false
		}
		return nil
	}
	// A missing or damaged manifest hides what it needs: those blobs are
	// unreachable now, and a rebuild of the tag writes them again.
	var children []v1.Descriptor
	raw, err := t.readBlob(d)
	switch {
	case errors.Is(err, errDamaged) || errors.Is(err, fs.ErrNotExist):
		*ok = false
		return nil
	case err != nil:
		return err
	case d.MediaType.IsIndex():
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			*ok = false
			return nil
		}
		children = im.Manifests
	default:
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			*ok = false
			return nil
		}
		children = append([]v1.Descriptor{m.Config}, m.Layers...)
	}
	for _, c := range children {
		if err := t.reach(c, reachable, ok); err != nil {
			return err
		}
	}
	return nil
}

// files lists the blobs of the layout and its temporary files (in the
// layout's directory and in blobs/ALGORITHM).
func (t *layoutTarget) files() ([]prune.File, error) {
	var out []prune.File
	add := func(dir, rel string, isBlobDir bool) error {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading OCI layout %q: %w", t.dir, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			f := prune.File{Path: rel + e.Name()}
			switch {
			case strings.HasPrefix(e.Name(), tempPrefix):
				f.Temp = true
			case isBlobDir:
				h, err := v1.NewHash(filepath.Base(dir) + ":" + e.Name())
				if err != nil {
					continue // not a blob: leave it alone
				}
				f.Digest = h.String()
			default:
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("reading OCI layout %q: %w", t.dir, err)
			}
			f.Size, f.ModTime = info.Size(), info.ModTime()
			out = append(out, f)
		}
		return nil
	}
	if err := add(t.dir, "", false); err != nil {
		return nil, err
	}
	algs, err := os.ReadDir(filepath.Join(t.dir, "blobs"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading OCI layout %q: %w", t.dir, err)
	}
	for _, a := range algs {
		if a.IsDir() {
			if err := add(filepath.Join(t.dir, "blobs", a.Name()), "blobs/"+a.Name()+"/", true); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Locks reports whether OCI layouts are locked on this system: where they
// are, a temporary file that GC finds belongs to no write under way.
const Locks = locks
