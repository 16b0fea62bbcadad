package publish

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ResolveBase reads a base image: a registry reference (REPO[:TAG][@DIGEST],
// fetched with the registry options of opts) or oci:DIR[:TAG] (an OCI image
// layout; without TAG the layout must hold one manifest). It returns a
// v1.Image or, for a multi-platform base, a v1.ImageIndex, and its digest.
// CheckBase checks the syntax of a base reference, as ResolveBase takes
// it, without reading it: a registry reference with a valid port,
// oci:DIR[:TAG], or oci-layout://DIR@DIGEST (what [Target.Ref] gives for
// an OCI layout). Its errors do not repeat ref.
func CheckBase(ref string) error {
	if rest, ok := strings.CutPrefix(ref, "oci-layout://"); ok {
		if _, d, ok := strings.Cut(rest, "@"); !ok {
			return errors.New("oci-layout:// needs a digest, as in oci-layout://DIR@sha256:HEX")
		} else if _, err := v1.NewHash(d); err != nil {
			return err
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(ref, "oci:"); ok {
		if rest == "" {
			return errors.New("oci: needs a directory, as in oci:DIR or oci:DIR:TAG")
		}
		return nil
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	return checkPort(r.Context().RegistryStr())
}

func ResolveBase(ctx context.Context, ref string, opts ...Option) (Artifact, v1.Hash, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	if rest, ok := strings.CutPrefix(ref, "oci-layout://"); ok {
		if err := CheckBase(ref); err != nil {
			return nil, v1.Hash{}, fmt.Errorf("base %q: %w", ref, err)
		}
		i := strings.LastIndex(rest, "@")
		return resolveLayoutBase(ref, rest[:i], rest[i+1:])
	}
	if rest, ok := strings.CutPrefix(ref, "oci:"); ok {
		dir, tag := rest, ""
		if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.ContainsAny(rest[i+1:], `/\`) {
			dir, tag = rest[:i], rest[i+1:]
		}
		return resolveLayoutBase(ref, dir, tag)
	}
	var nameOpts []name.Option
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err == nil {
		err = checkPort(r.Context().RegistryStr())
	}
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("base %q: %w", ref, err)
	}
	t := &registryTarget{repo: r.Context(), o: o}
	op := "reading base image " + r.String()
	desc, err := remote.Get(r, t.remoteOptions(ctx, nil)...)
	if err != nil {
		return nil, v1.Hash{}, t.fail(ctx, op, err)
	}
	var a Artifact
	if desc.MediaType.IsIndex() {
		a, err = desc.ImageIndex()
	} else {
		a, err = desc.Image()
	}
	if err == nil {
		err = readConfigs(a)
	}
	if err != nil {
		return nil, v1.Hash{}, t.fail(ctx, op, err)
	}
	return a, desc.Digest, nil
}

// readConfigs reads the manifests and configs of a, an image or an
// index's images, so that reading them fails here, as the base's error,
// rather than later; they are small, and go-containerregistry keeps them.
func readConfigs(a Artifact) error {
	switch a := a.(type) {
	case v1.Image:
		_, err := a.ConfigFile()
		return err
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			if !d.MediaType.IsImage() {
				continue
			}
			img, err := a.Image(d.Digest)
			if err != nil {
				return err
			}
			if _, err := img.ConfigFile(); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolveLayoutBase reads the manifest of the OCI layout dir tagged tag,
// or whose digest tag is ("sha256:..."), or its one manifest when tag is
// "".
func resolveLayoutBase(ref, dir, tag string) (Artifact, v1.Hash, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("base %q: %w", ref, err)
	}
	p, err := layout.FromPath(abs)
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("base %q: reading OCI layout: %w", ref, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("base %q: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("base %q: %w", ref, err)
	}
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		if tag == "" && strings.HasSuffix(d.Annotations[refNameAnnotation], StampSuffix) {
			continue // a deps image's publish stamp, not an image
		}
		if d.Digest.String() == tag {
			found = []v1.Descriptor{d} // the same manifest under any tag
			break
		}
		if tag == "" || d.Annotations[refNameAnnotation] == tag {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0 && tag != "":
		return nil, v1.Hash{}, fmt.Errorf("base %q: no manifest tagged %q in %s", ref, tag, abs)
	case len(found) != 1:
		return nil, v1.Hash{}, fmt.Errorf("base %q: the layout holds %d manifests; name one as oci:DIR:TAG", ref, len(found))
	}
	d := found[0]
	var a Artifact
	if d.MediaType.IsIndex() {
		a, err = idx.ImageIndex(d.Digest)
	} else {
		a, err = idx.Image(d.Digest)
	}
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("base %q: %w", ref, err)
	}
	return a, d.Digest, nil
}
