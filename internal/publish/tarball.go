package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarballTarget is a 'docker load' tarball holding one image. Each Write
// replaces the file: it writes a temporary file next to it and renames it,
// so the file is never half-written. A multi-platform index is written as
// its linux image for this machine's architecture: the format holds no index.
type tarballTarget struct {
	spec string
	file string
	o    *options
}

func (t *tarballTarget) String() string { return t.spec }

func (t *tarballTarget) Ref(tag string, desc v1.Descriptor) string {
	return t.o.tarRepo + ":" + tag
}

func (t *tarballTarget) opener() tarball.Opener {
	return func() (io.ReadCloser, error) { return os.Open(t.file) }
}

func (t *tarballTarget) manifest() (tarball.Manifest, error) {
	m, err := tarball.LoadManifest(t.opener())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading tarball %q: %w", t.file, err)
	}
	return m, nil
}

func (t *tarballTarget) Lookup(ctx context.Context, tag string) (*v1.Descriptor, error) {
	m, err := t.manifest()
	if err != nil {
		return nil, err
	}
	want := t.o.tarRepo + ":" + tag
	for _, d := range m {
		for _, rt := range d.RepoTags {
			if rt == want {
				return t.describe(rt)
			}
		}
	}
	return nil, ErrNotFound
}

func (t *tarballTarget) describe(repoTag string) (*v1.Descriptor, error) {
	ref, err := name.NewTag(repoTag)
	if err != nil {
		return nil, err
	}
	img, err := tarball.Image(t.opener(), &ref)
	if err != nil {
		return nil, fmt.Errorf("reading %s from tarball %q: %w", repoTag, t.file, err)
	}
	return partial.Descriptor(img)
}

func (t *tarballTarget) Write(ctx context.Context, tag string, a Artifact) (*Report, error) {
	var img v1.Image
	switch a := a.(type) {
	case v1.Image:
		img = a
	case v1.ImageIndex:
		var err error
		if img, err = firstImage(a); err != nil {
			return nil, fmt.Errorf("picking the image of the index to write to a tarball: %w", err)
		}
	default:
		return nil, fmt.Errorf("cannot write a %T: want a v1.Image or v1.ImageIndex", a)
	}
	ref, err := name.NewTag(t.o.tarRepo + ":" + tag)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(t.file), ".tmp-"+filepath.Base(t.file)+"-")
	if err != nil {
		return nil, fmt.Errorf("writing tarball: %w", err)
	}
	defer os.Remove(f.Name())
	cw := &countWriter{w: f, progress: t.o.progress}
	if cw.progress != nil {
		if cw.total, err = tarball.CalculateSize(map[name.Reference]v1.Image{ref: img}); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing tarball %q: %w", t.file, err)
		}
	}
	err = tarball.Write(ref, img, cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing tarball %q: %w", t.file, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(f.Name(), t.file); err != nil {
		return nil, fmt.Errorf("writing tarball: %w", err)
	}
	layers, err := distinctLayers(img)
	if err != nil {
		return nil, err
	}
	// The manifest 'docker load' sees is the one the tarball implies.
	desc, err := t.describe(ref.String())
	if err != nil {
		return nil, err
	}
	rep := &Report{Ref: t.Ref(tag, *desc), Digest: desc.Digest, BytesWritten: cw.n}
	for _, l := range layers {
		rep.Layers = append(rep.Layers, LayerReport{Digest: l.Digest, Size: l.Size})
	}
	return rep, nil
}

// countWriter counts the bytes written and reports them as progress.
type countWriter struct {
	w        io.Writer
	n, total int64
	progress func(Progress)
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(Progress{Complete: c.n, Total: c.total})
	}
	return n, err
}

func (t *tarballTarget) Image(ctx context.Context, tag string, d v1.Descriptor) (v1.Image, error) {
	ref, err := name.NewTag(t.o.tarRepo + ":" + tag)
	if err != nil {
		return nil, err
	}
	img, err := tarball.Image(t.opener(), &ref)
	if err != nil {
		return nil, fmt.Errorf("reading %s from tarball %q: %w", ref, t.file, err)
	}
	return img, nil
}

// Index fails: a tarball in docker's format holds single images only.
func (t *tarballTarget) Index(ctx context.Context, tag string, d v1.Descriptor) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("tarball %q holds single images, no index", t.file)
}

func (t *tarballTarget) List(ctx context.Context) ([]Entry, error) {
	m, err := t.manifest()
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, d := range m {
		for _, rt := range d.RepoTags {
			ref, err := name.NewTag(rt)
			if err != nil || ref.Context().Name() != mustRepo(t.o.tarRepo) {
				continue
			}
			tag, err := ParseTag(ref.TagStr())
			if err != nil {
				continue
			}
			desc, err := t.describe(rt)
			if err != nil {
				return nil, err
			}
			entries = append(entries, Entry{Tag: tag, Descriptor: *desc, Image: func() (v1.Image, error) {
				return tarball.Image(t.opener(), &ref)
			}})
		}
	}
	return entries, nil
}

func mustRepo(s string) string {
	r, err := name.NewRepository(s)
	if err != nil {
		return s
	}
	return r.Name()
}
