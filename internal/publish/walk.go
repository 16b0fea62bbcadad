package publish

import (
	"bytes"
	"fmt"
	"io"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
)

// blob is one piece of content of an artifact, with how to read it.
type blob struct {
	desc  v1.Descriptor
	layer bool
	open  func() (io.ReadCloser, error)
}

// blobs returns the content of a in the order it must be written: for an
// image its layers, config and manifest; for an index each manifest's
// content, then the index itself. A blob shared by several images appears
// once.
func blobs(a Artifact) ([]blob, error) {
	var out []blob
	seen := map[v1.Hash]bool{}
	add := func(b blob) {
		if !seen[b.desc.Digest] {
			seen[b.desc.Digest] = true
			out = append(out, b)
		}
	}
	var walk func(a Artifact) error
	walk = func(a Artifact) error {
		switch a := a.(type) {
		case v1.ImageIndex:
			im, err := a.IndexManifest()
			if err != nil {
				return fmt.Errorf("reading index manifest: %w", err)
			}
			for _, d := range im.Manifests {
				var child Artifact
				var err error
				if d.MediaType.IsIndex() {
					child, err = a.ImageIndex(d.Digest)
				} else {
					child, err = a.Image(d.Digest)
				}
				if err != nil {
					return fmt.Errorf("reading manifest %s of the index: %w", d.Digest, err)
				}
				if err := walk(child); err != nil {
					return err
				}
			}
		case v1.Image:
			layers, err := a.Layers()
			if err != nil {
				return fmt.Errorf("reading layers: %w", err)
			}
			for _, l := range layers {
				d, err := partial.Descriptor(l)
				if err != nil {
					return fmt.Errorf("describing a layer: %w", err)
				}
				add(blob{desc: *d, layer: true, open: l.Compressed})
			}
			cfg, err := a.RawConfigFile()
			if err != nil {
				return fmt.Errorf("reading config: %w", err)
			}
			m, err := a.Manifest()
			if err != nil {
				return fmt.Errorf("reading manifest: %w", err)
			}
			add(blob{desc: m.Config, open: bytesOpener(cfg)})
		default:
			return fmt.Errorf("cannot publish a %T: want a v1.Image or v1.ImageIndex", a)
		}
		raw, err := a.RawManifest()
		if err != nil {
			return fmt.Errorf("reading manifest: %w", err)
		}
		d, err := descriptorOf(a)
		if err != nil {
			return err
		}
		add(blob{desc: d, open: bytesOpener(raw)})
		return nil
	}
	if err := walk(a); err != nil {
		return nil, err
	}
	return out, nil
}

func descriptorOf(a Artifact) (v1.Descriptor, error) {
	d, err := a.Digest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("computing manifest digest: %w", err)
	}
	mt, err := a.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := a.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// distinctLayers returns the layers of a, each once.
func distinctLayers(a Artifact) ([]v1.Descriptor, error) {
	bs, err := blobs(a)
	if err != nil {
		return nil, err
	}
	var out []v1.Descriptor
	for _, b := range bs {
		if b.layer {
			out = append(out, b.desc)
		}
	}
	return out, nil
}

// firstImage returns the image of idx for this machine's architecture on
// linux, else its first image.
func firstImage(idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("empty index")
	}
	pick := im.Manifests[0]
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH && !d.MediaType.IsIndex() {
			pick = d
			break
		}
	}
	if pick.MediaType.IsIndex() {
		child, err := idx.ImageIndex(pick.Digest)
		if err != nil {
			return nil, err
		}
		return firstImage(child)
	}
	return idx.Image(pick.Digest)
}
