package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// StampSuffix ends the tag of a stamp: TAG.stamp is the stamp of the deps
// image tagged TAG. No stamp tag parses as a Tag, so List never returns one.
const StampSuffix = ".stamp"

// Annotations of a stamp's manifest.
const (
	// AnnotationPublished is when the deps image was published, RFC 3339.
	AnnotationPublished = "org.cachecheck.published"
	// AnnotationStampOf is the digest of the deps image the stamp is for.
	AnnotationStampOf = "org.cachecheck.stamp-of"
)

// A Stamp records when a deps image was published. Deps images are
// reproducible: their config's creation time is fixed (SOURCE_DATE_EPOCH or
// the epoch) so that the same key gives the same digest on every machine.
// The real publication time is therefore kept beside the image, in a tiny
// manifest (no layers, an empty config, the time as an annotation) tagged
// TAG.stamp, which warm writes after the image's own tag. Any registry
// client can read it ('skopeo inspect --raw docker://REPO:TAG.stamp').
type Stamp struct {
	// Digest is the deps image's manifest (or index) digest.
	Digest v1.Hash
	// Published is when the deps image was first published.
	Published time.Time
}

// Pruner is a Target that keeps stamps and can delete deps images: a
// registry repository or an OCI layout. A tarball holds one image and is
// replaced whole, so it is not a Pruner.
type Pruner interface {
	Target
	// WriteStamp writes the stamp of the image tagged tag.
	WriteStamp(ctx context.Context, tag string, s Stamp) error
	// ReadStamp returns the stamp of the image tagged tag, or ErrNotFound.
	ReadStamp(ctx context.Context, tag string) (*Stamp, error)
	// Delete deletes the deps image tagged tag, whose manifest is desc, and
	// its stamp. From a registry it deletes the manifests by digest (the
	// registry's garbage collector reclaims the blobs); from an OCI layout
	// it also removes the blobs no remaining image uses.
	Delete(ctx context.Context, tag string, desc v1.Descriptor) error
}

// ErrDeleteDisabled is returned (wrapped) by Delete when the registry
// refuses deletes.
var ErrDeleteDisabled = errors.New("the registry does not allow deletes")

// stampImage returns the stamp manifest of s.
func stampImage(s Stamp) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.Annotations(img, map[string]string{
		AnnotationPublished:                s.Published.UTC().Format(time.RFC3339Nano),
		AnnotationStampOf:                  s.Digest.String(),
		"org.opencontainers.image.created": s.Published.UTC().Format(time.RFC3339),
	}).(v1.Image), nil
}

// parseStamp reads a stamp from its raw manifest.
func parseStamp(tag string, raw []byte) (*Stamp, error) {
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("reading stamp %s%s: %w", tag, StampSuffix, err)
	}
	pub, err := time.Parse(time.RFC3339Nano, m.Annotations[AnnotationPublished])
	if err != nil {
		return nil, fmt.Errorf("reading stamp %s%s: annotation %s: %w", tag, StampSuffix, AnnotationPublished, err)
	}
	d, err := v1.NewHash(m.Annotations[AnnotationStampOf])
	if err != nil {
		return nil, fmt.Errorf("reading stamp %s%s: annotation %s: %w", tag, StampSuffix, AnnotationStampOf, err)
	}
	return &Stamp{Digest: d, Published: pub}, nil
}

// Registry.

func (t *registryTarget) WriteStamp(ctx context.Context, tag string, s Stamp) error {
	img, err := stampImage(s)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	ref, err := t.tag(tag + StampSuffix)
	if err != nil {
		return err
	}
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	opts := t.remoteOptions(ctx, nil)
	write := func() error { return remote.Write(ref, img, opts...) }
	err = write()
	if err != nil && blobUnknown(err) {
		// Another warm is writing a stamp too; they share the config blob.
		err = retryBlobUnknown(ctx, write)
	}
	// The reply to a write that was done may be lost: ask.
	if err != nil && !holds(ref, d, opts) {
		return t.fail(ctx, tagOp("writing stamp", ref), err)
	}
	return nil
}

func (t *registryTarget) ReadStamp(ctx context.Context, tag string) (*Stamp, error) {
	ref, err := t.tag(tag + StampSuffix)
	if err != nil {
		return nil, err
	}
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	desc, err := remote.Get(ref, t.remoteOptions(ctx, nil)...)
	if err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, t.fail(ctx, tagOp("reading stamp", ref), err)
	}
	return parseStamp(tag, desc.Manifest)
}

func (t *registryTarget) Delete(ctx context.Context, tag string, desc v1.Descriptor) error {
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	opts := t.remoteOptions(ctx, nil)
	// The stamp first: a stamp without its image is harmless, an image
	// that lost its stamp would look unstamped to the next prune.
	stampRef, err := t.tag(tag + StampSuffix)
	if err != nil {
		return err
	}
	sd, err := remote.Head(stampRef, opts...)
	switch {
	case err == nil:
		if err := t.deleteManifest(ctx, stampRef, sd.Digest, opts); err != nil {
			return err
		}
	case !isNotFound(err):
		return t.fail(ctx, tagOp("looking up stamp", stampRef), err)
	}
	ref, err := t.tag(tag)
	if err != nil {
		return err
	}
	return t.deleteManifest(ctx, ref, desc.Digest, opts)
}

// deleteManifest deletes the manifest d, tagged tag. Distribution removes
// the tags of a manifest deleted by digest; a registry that keeps the tag
// is asked to delete the tag too.
func (t *registryTarget) deleteManifest(ctx context.Context, tag name.Tag, d v1.Hash, opts []remote.Option) error {
	if err := t.delete(ctx, t.repo.Digest(d.String()), opts); err != nil {
		return err
	}
	if got, err := remote.Head(tag, opts...); err == nil && got.Digest == d {
		return t.delete(ctx, tag, opts)
	}
	return nil
}

func (t *registryTarget) delete(ctx context.Context, ref name.Reference, opts []remote.Option) error {
	err := remote.Delete(ref, opts...)
	if err == nil || isNotFound(err) {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusMethodNotAllowed || hasCode(terr, transport.UnsupportedErrorCode)) {
		return fmt.Errorf("deleting %s: %w: enable deletes in the registry's configuration (distribution: storage.delete.enabled: true, or REGISTRY_STORAGE_DELETE_ENABLED=true) and run its garbage collector to reclaim the space (%v)", ref, ErrDeleteDisabled, err)
	}
	// A delete whose reply was lost was done: the manifest is gone.
	if _, herr := remote.Head(ref, opts...); isNotFound(herr) {
		return nil
	}
	return t.fail(ctx, "deleting "+ref.String(), err)
}

func hasCode(terr *transport.Error, code transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// OCI layout.

func (t *layoutTarget) WriteStamp(ctx context.Context, tag string, s Stamp) error {
	img, err := stampImage(s)
	if err != nil {
		return err
	}
	_, err = t.Write(ctx, tag+StampSuffix, img)
	return err
}

func (t *layoutTarget) ReadStamp(ctx context.Context, tag string) (*Stamp, error) {
	desc, err := t.Lookup(ctx, tag+StampSuffix)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(t.blobPath(desc.Digest))
	if err != nil {
		return nil, fmt.Errorf("reading stamp %s%s in %q: %w", tag, StampSuffix, t.dir, err)
	}
	return parseStamp(tag, raw)
}

// Delete removes tag and its stamp from index.json, then the blobs only
// they used, under the layout's locks: a concurrent Write waits, or is
// waited for.
func (t *layoutTarget) Delete(ctx context.Context, tag string, desc v1.Descriptor) error {
	unlock, err := t.lockAll()
	if err != nil {
		return err
	}
	defer unlock()
	im, err := t.readIndex()
	if err != nil {
		return err
	}
	var kept, removed []v1.Descriptor
	for _, d := range im.Manifests {
		switch d.Annotations[refNameAnnotation] {
		case tag, tag + StampSuffix:
			removed = append(removed, d)
		default:
			kept = append(kept, d)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	im.Manifests = kept
	data, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(t.dir, "index.json"), append(data, '\n')); err != nil {
		return fmt.Errorf("writing OCI layout index: %w", err)
	}
	inUse := map[v1.Hash]bool{}
	for _, d := range kept {
		if err := t.walkBlobs(d, func(h v1.Hash) { inUse[h] = true }); err != nil {
			return err
		}
	}
	var unused []v1.Hash
	for _, d := range removed {
		if err := t.walkBlobs(d, func(h v1.Hash) {
			if !inUse[h] {
				unused = append(unused, h)
			}
		}); err != nil {
			return err
		}
	}
	for _, h := range unused {
		if err := os.Remove(t.blobPath(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing blob %s from %q: %w", h, t.dir, err)
		}
	}
	return nil
}

// walkBlobs calls f with the digest of every blob the manifest d names,
// itself included, reading manifests from the layout.
func (t *layoutTarget) walkBlobs(d v1.Descriptor, f func(v1.Hash)) error {
	f(d.Digest)
	raw, err := os.ReadFile(t.blobPath(d.Digest))
	if err != nil {
		return fmt.Errorf("reading manifest %s in %q: %w", d.Digest, t.dir, err)
	}
	if d.MediaType.IsIndex() {
		im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("reading index %s in %q: %w", d.Digest, t.dir, err)
		}
		for _, c := range im.Manifests {
			if err := t.walkBlobs(c, f); err != nil {
				return err
			}
		}
		return nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("reading manifest %s in %q: %w", d.Digest, t.dir, err)
	}
	f(m.Config.Digest)
	for _, l := range m.Layers {
		f(l.Digest)
	}
	return nil
}
