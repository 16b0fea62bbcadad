package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// refNameAnnotation holds a manifest's tag in an OCI layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// layoutTarget is an OCI image layout directory. Blobs are written to a
// temporary file and renamed into place once their digest is checked;
// index.json is replaced atomically, after every blob it names is in place.
type layoutTarget struct {
	spec string
	dir  string
	o    *options
}

func (t *layoutTarget) String() string { return t.spec }

func (t *layoutTarget) Ref(tag string, desc v1.Descriptor) string {
	return "oci-layout://" + filepath.ToSlash(t.dir) + "@" + desc.Digest.String()
}

// readIndex reads index.json; a missing layout reads as an empty index.
func (t *layoutTarget) readIndex() (*v1.IndexManifest, error) {
	file := filepath.Join(t.dir, "index.json")
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout index: %w", err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(data, &im); err != nil {
		return nil, fmt.Errorf("reading OCI layout index %q: %w", file, err)
	}
	return &im, nil
}

// Lookup returns the descriptor tag names, once every blob the tag needs
// (the manifest, its config and layers; for an index, its manifests too)
// is in the layout with the size its descriptor gives. A tag whose blobs
// are missing is an [*IncompleteError], which is also ErrNotFound: a miss,
// that a Write of the tag repairs.
func (t *layoutTarget) Lookup(ctx context.Context, tag string) (*v1.Descriptor, error) {
	im, err := t.readIndex()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Annotations[refNameAnnotation] == tag {
			missing, err := t.missing(d)
			if err != nil {
				return nil, err
			}
			if len(missing) > 0 {
				return nil, &IncompleteError{Target: t.spec, Tag: tag, Missing: missing}
			}
			d := d
			return &d, nil
		}
	}
	return nil, ErrNotFound
}

// IncompleteError is returned by Lookup when a tag of an OCI layout names
// blobs the layout lacks (deleted, or cut short): the image cannot be
// copied, so it counts as not found.
type IncompleteError struct {
	Target  string
	Tag     string
	Missing []v1.Hash // the first blobs found missing, or damaged
}

func (e *IncompleteError) Error() string {
	var ds []string
	for _, h := range e.Missing {
		ds = append(ds, h.String())
	}
	return fmt.Sprintf("%s: tag %s is incomplete: blob %s missing or damaged", e.Target, e.Tag, strings.Join(ds, ", "))
}

// Is reports that an IncompleteError is ErrNotFound.
func (e *IncompleteError) Is(target error) bool { return target == ErrNotFound }

// missing returns the blobs the manifest d needs that are missing from the
// layout or have the wrong size, and a manifest whose bytes do not match
// its digest. It stops descending at a missing manifest.
func (t *layoutTarget) missing(d v1.Descriptor) ([]v1.Hash, error) {
	var out []v1.Hash
	var walk func(d v1.Descriptor) error
	walk = func(d v1.Descriptor) error {
		if !d.MediaType.IsIndex() && !d.MediaType.IsImage() {
			ok, err := t.hasBlob(d)
			if !ok && err == nil {
				out = append(out, d.Digest)
			}
			return err
		}
		raw, err := t.readBlob(d)
		if errors.Is(err, errDamaged) || errors.Is(err, fs.ErrNotExist) {
			out = append(out, d.Digest)
			return nil
		}
		if err != nil {
			return err
		}
		if d.MediaType.IsIndex() {
			im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
			if err != nil {
				out = append(out, d.Digest)
				return nil
			}
			for _, c := range im.Manifests {
				if err := walk(c); err != nil {
					return err
				}
			}
			return nil
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			out = append(out, d.Digest)
			return nil
		}
		for _, c := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(d)
}

// errDamaged is a blob whose bytes do not match its descriptor.
var errDamaged = errors.New("content does not match its digest")

// hasBlob reports whether the blob d is in the layout with d's size.
func (t *layoutTarget) hasBlob(d v1.Descriptor) (bool, error) {
	fi, err := os.Stat(t.blobPath(d.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("OCI layout %q: %w", t.dir, err)
	}
	return fi.Size() == d.Size, nil
}

// readBlob reads the blob d (a manifest, index or config) and checks its size
// and digest: errDamaged when they differ, fs.ErrNotExist when it is
// missing.
func (t *layoutTarget) readBlob(d v1.Descriptor) ([]byte, error) {
	raw, err := os.ReadFile(t.blobPath(d.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("OCI layout %q: %w", t.dir, err)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(raw)); int64(len(raw)) != d.Size || h != d.Digest {
		return nil, fmt.Errorf("blob %s in %q: %w", d.Digest, t.dir, errDamaged)
	}
	return raw, nil
}

func (t *layoutTarget) blobPath(h v1.Hash) string {
	return filepath.Join(t.dir, "blobs", h.Algorithm, h.Hex)
}

func (t *layoutTarget) Write(ctx context.Context, tag string, a Artifact) (*Report, error) {
	bs, err := blobs(a)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(t.dir, "blobs", "sha256"), 0o777); err != nil {
		return nil, fmt.Errorf("creating OCI layout: %w%s", err, diskHint(t.dir, err))
	}
	// Garbage collection (prune --gc) and Delete remove the blobs no tag
	// names: hold them off until this write's tag is in index.json.
	unlockBlobs, err := lockFile(filepath.Join(t.dir, blobsLock), false)
	if err != nil {
		return nil, fmt.Errorf("locking OCI layout %q: %w", t.dir, err)
	}
	defer unlockBlobs()
	if _, err := os.Stat(filepath.Join(t.dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(filepath.Join(t.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return nil, fmt.Errorf("creating OCI layout: %w%s", err, diskHint(t.dir, err))
		}
	}
	var p Progress
	var todo []blob
	rep := &Report{}
	for _, b := range bs {
		exists := t.holds(b)
		if !exists {
			todo = append(todo, b)
			p.Total += b.desc.Size
		}
		if b.layer {
			rep.Layers = append(rep.Layers, LayerReport{Digest: b.desc.Digest, Size: b.desc.Size, Reused: exists})
		}
	}
	for _, b := range todo {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := t.writeBlob(b, func(n int64) {
			if t.o.progress != nil {
				p.Complete += n
				t.o.progress(p)
			}
		})
		rep.BytesWritten += n
		if err != nil {
			return nil, err
		}
	}
	desc, err := descriptorOf(a)
	if err != nil {
		return nil, err
	}
	desc.Annotations = map[string]string{refNameAnnotation: tag}
	// Another warm may update index.json at the same time: read, change
	// and replace it under a lock, so neither loses the other's tag.
	unlock, err := lockFile(filepath.Join(t.dir, indexLock), true)
	if err != nil {
		return nil, fmt.Errorf("locking OCI layout %q: %w", t.dir, err)
	}
	defer unlock()
	im, err := t.readIndex()
	if err != nil {
		return nil, err
	}
	var kept []v1.Descriptor
	for _, d := range im.Manifests {
		if d.Annotations[refNameAnnotation] != tag {
			kept = append(kept, d)
		}
	}
	im.Manifests = append(kept, desc)
	data, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(t.dir, "index.json"), append(data, '\n')); err != nil {
		return nil, fmt.Errorf("writing OCI layout index: %w%s", err, diskHint(t.dir, err))
	}
	rep.Ref = t.Ref(tag, desc)
	rep.Digest = desc.Digest
	return rep, nil
}

// holds reports whether the layout holds b with its size and, for the
// small blobs (manifests, configs), its digest too: a damaged manifest is
// written again rather than kept.
func (t *layoutTarget) holds(b blob) bool {
	if b.layer {
		ok, _ := t.hasBlob(b.desc)
		return ok
	}
	_, err := t.readBlob(b.desc)
	return err == nil
}

// writeBlob writes b to a temporary file, checks its digest and size, and
// renames it into place. It returns the bytes written.
func (t *layoutTarget) writeBlob(b blob, progress func(n int64)) (int64, error) {
	rc, err := b.open()
	if err != nil {
		return 0, fmt.Errorf("reading blob %s: %w", b.desc.Digest, err)
	}
	defer rc.Close()
	final := t.blobPath(b.desc.Digest)
	f, err := createTemp(filepath.Dir(final), tempPrefix+b.desc.Digest.Hex[:12]+"-")
	if err != nil {
		return 0, fmt.Errorf("writing blob %s: %w", b.desc.Digest, err)
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h, progressWriter(progress)), rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("writing blob %s to %q: %w%s", b.desc.Digest, f.Name(), err, diskHint(t.dir, err))
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != b.desc.Digest.String() || n != b.desc.Size {
		return n, fmt.Errorf("writing blob %s: wrote %d bytes with digest %s, want %d bytes", b.desc.Digest, n, got, b.desc.Size)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return n, fmt.Errorf("writing blob %s: %w", b.desc.Digest, err)
	}
	return n, nil
}

// diskHint says what to do when the layout's file system is full or
// read-only; the layout keeps what it had: no tag, no temporary file.
func diskHint(dir string, err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Sprintf("\n\tthe file system holding %s is full: free space there or write elsewhere with --to oci:DIR (nothing was tagged)", dir)
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("\n\t%s is not writable: fix its permissions or write elsewhere with --to oci:DIR (nothing was tagged)", dir)
	}
	return ""
}

type progressWriter func(n int64)

func (p progressWriter) Write(b []byte) (int, error) {
	p(int64(len(b)))
	return len(b), nil
}

// writeFileAtomic writes data to a temporary file in file's directory,
// syncs it and renames it to file.
func writeFileAtomic(file string, data []byte) error {
	f, err := createTemp(filepath.Dir(file), tempPrefix+filepath.Base(file)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}

// tempPrefix begins the names of the temporary files of a layout, which
// garbage collection removes when no write holds the layout.
const tempPrefix = ".tmp-"

// The lock files of a layout: indexLock is held (exclusive) while
// index.json is read, changed and replaced; blobsLock is held shared by
// every Write from its first blob to its tag, and exclusive by what
// removes blobs (Delete, GC).
const (
	indexLock = ".cachecheck.lock"
	blobsLock = ".cachecheck.blobs.lock"
)

// createTemp creates a new file in dir whose name begins with prefix, as
// os.CreateTemp does but with the mode 0666 less the umask, like every
// other file the process creates: a layout written by one user is read by
// others (buildx's --build-context oci-layout://, a CI cache), which a
// temporary file's mode 0600, kept by the rename, would refuse.
func createTemp(dir, prefix string) (*os.File, error) {
	for i := 0; ; i++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) && i < 10000 {
			continue
		}
		return f, err
	}
}

func (t *layoutTarget) Image(ctx context.Context, tag string, d v1.Descriptor) (v1.Image, error) {
	p, err := layout.FromPath(t.dir)
	if err != nil {
		return nil, err
	}
	if d.MediaType.IsIndex() {
		idx, err := p.ImageIndex()
		if err != nil {
			return nil, err
		}
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		return firstImage(child)
	}
	return p.Image(d.Digest)
}

func (t *layoutTarget) Index(ctx context.Context, tag string, d v1.Descriptor) (v1.ImageIndex, error) {
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s in %s is a single image, not an index", tag, t.dir)
	}
	p, err := layout.FromPath(t.dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	return idx.ImageIndex(d.Digest)
}

func (t *layoutTarget) List(ctx context.Context) ([]Entry, error) {
	im, err := t.readIndex()
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, d := range im.Manifests {
		tag, err := ParseTag(d.Annotations[refNameAnnotation])
		if err != nil {
			continue
		}
		d := d
		entries = append(entries, Entry{Tag: tag, Descriptor: d, Image: func() (v1.Image, error) {
			return t.Image(ctx, tag.String(), d)
		}})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Tag.String() < entries[j].Tag.String() })
	return entries, nil
}

// Exists reports whether the layout is there: its directory holds an
// index.json. A missing layout reads as an empty one everywhere else, which
// suits a lookup (a miss) but not a prune, where it means a wrong --to.
func (t *layoutTarget) Exists() (bool, error) {
	fi, err := os.Stat(t.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading OCI layout: %w", err)
	case !fi.IsDir():
		return false, fmt.Errorf("OCI layout %s is not a directory; name the layout's directory", t.dir)
	}
	_, err = os.Stat(filepath.Join(t.dir, "index.json"))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("reading OCI layout index: %w", err)
}
