package depsimage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/layer"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/mod/module"
)

// Annotation and label keys recorded on a deps image: as OCI annotations of
// the manifest and as labels of the config.
const (
	LabelKey          = "org.cachecheck.key"
	LabelInputsDigest = "org.cachecheck.inputs-digest"
	LabelGoVersion    = "org.cachecheck.go-version"
	LabelModuleCount  = "org.cachecheck.modules.count"
	LabelModules      = "org.cachecheck.modules"
	LabelBaseDigest   = "org.cachecheck.base.digest"
	LabelVersion      = "org.cachecheck.version"
	LabelContents     = "org.cachecheck.contents"
	LabelLayers       = "org.cachecheck.layers"
	// LabelMainModules lists the module paths of the module or workspace
	// the image was warmed for, space-separated: what prune groups by.
	LabelMainModules = "org.cachecheck.main-modules"

	// Standard OCI annotations also set.
	annotationBaseDigest = "org.opencontainers.image.base.digest"
	annotationCreated    = "org.opencontainers.image.created"
)

// Metadata is what a deps image records about itself.
type Metadata struct {
	Key          cachekey.Key
	InputsDigest string           // see [InputsDigest]
	GoVersion    string           // go directive of the module or workspace
	Modules      []module.Version // downloaded modules, sorted
	BaseDigest   string           // digest of the base image or index; "" for scratch
	Version      string           // cachecheck version that built it
	Contents     string           // ContentsFull or ContentsZips
	Layers       int              // number of deps layers
	// MainModules are the paths of the main module, or of the workspace's
	// modules, the image was warmed for; recorded only when not empty.
	MainModules []string
	// Created is the creation time of the image and its history entries.
	// The zero value means SOURCE_DATE_EPOCH when set, else the Unix epoch.
	// It is not recorded as a label.
	Created time.Time
}

// InputsDigest returns the digest of canonical key inputs
// (cachekey.Result.Inputs): "sha256:" and the hex SHA-256 of the lines, each
// ending in a newline, the text the key hashes.
func InputsDigest(inputs []string) string {
	h := sha256.New()
	for _, l := range inputs {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func (md Metadata) created() (time.Time, error) {
	if !md.Created.IsZero() {
		return md.Created.UTC(), nil
	}
	return layer.SourceDateEpoch()
}

// labels returns md as labels and annotations.
func (md Metadata) labels() map[string]string {
	mods := make([]string, len(md.Modules))
	for i, m := range md.Modules {
		mods[i] = m.Path + "@" + m.Version
	}
	m := map[string]string{
		LabelInputsDigest: md.InputsDigest,
		LabelGoVersion:    md.GoVersion,
		LabelModuleCount:  strconv.Itoa(len(md.Modules)),
		LabelModules:      strings.Join(mods, " "),
		LabelVersion:      md.Version,
		LabelContents:     md.Contents,
		LabelLayers:       strconv.Itoa(md.Layers),
	}
	if !md.Key.IsZero() {
		m[LabelKey] = md.Key.String()
	}
	if md.BaseDigest != "" {
		m[LabelBaseDigest] = md.BaseDigest
	}
	if len(md.MainModules) > 0 {
		m[LabelMainModules] = strings.Join(md.MainModules, " ")
	}
	return m
}

// Image returns base with the deps layers appended, or a deps-only image
// (linux/amd64 in its config, for tools that want a platform; its content
// serves any) when base is nil. The config sets GOPATH=/go and
// GOMODCACHE=/go/pkg/mod, replacing the base's values and keeping the rest
// of its environment, and records md as labels; the manifest records md as
// annotations; every layer has a history entry saying what it holds. The
// creation time is md.Created.
func Image(base v1.Image, layers []Layer, md Metadata) (v1.Image, error) {
	img := base
	if img == nil {
		img = mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", "amd64"
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
	} else if md.BaseDigest == "" {
		d, err := base.Digest()
		if err != nil {
			return nil, fmt.Errorf("reading base image digest: %w", err)
		}
		md.BaseDigest = d.String()
	}
	if md.Layers == 0 {
		md.Layers = len(layers)
	}
	if _, err := img.ConfigFile(); err != nil {
		return nil, fmt.Errorf("reading base image config: %w", err)
	}
	created, err := md.created()
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		adds[i] = mutate.Addendum{
			Layer:     l.Layer,
			MediaType: mt,
			History: v1.History{
				Created:   v1.Time{Time: created},
				CreatedBy: fmt.Sprintf("cachecheck warm: %s of the Go module cache at /%s (%d modules)", l.Name, ModCacheDir, len(l.Modules)),
				Comment:   modList(l.Modules),
			},
		}
	}
	if img, err = mutate.Append(img, adds...); err != nil {
		return nil, fmt.Errorf("appending deps layers: %w", err)
	}
	ann := map[string]string{annotationCreated: created.UTC().Format("2006-01-02T15:04:05Z")}
	if md.BaseDigest != "" {
		ann[annotationBaseDigest] = md.BaseDigest
	}
	return Label(img, func(cf *v1.ConfigFile) {
		cf.Created = v1.Time{Time: created}
		cf.Config.Env = setEnv(cf.Config.Env, "GOPATH=/go", "GOMODCACHE=/"+ModCacheDir)
	}, md.labels(), ann)
}

// Label returns img with its config changed by edit (nil for no change) and labels set both
// as config labels and as manifest annotations, with the other manifest
// annotations given.
func Label(img v1.Image, edit func(*v1.ConfigFile), labels, annotations map[string]string) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	if edit != nil {
		edit(cf)
	}
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	ann := maps.Clone(annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	for k, v := range labels {
		cf.Config.Labels[k] = v
		ann[k] = v
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}

func modList(mods []module.Version) string {
	s := make([]string, len(mods))
	for i, m := range mods {
		s[i] = m.Path + "@" + m.Version
	}
	return strings.Join(s, " ")
}

// setEnv sets the KEY=VALUE pairs in env: in place where env sets the key,
// else before the rest.
func setEnv(env []string, kvs ...string) []string {
	out := slices.Clone(env)
	var prepend []string
	for _, kv := range kvs {
		k, _, _ := strings.Cut(kv, "=")
		found := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i] = kv
				found = true
			}
		}
		if !found {
			prepend = append(prepend, kv)
		}
	}
	return append(prepend, out...)
}

// Index returns base with the same deps layers appended to the image of
// every platform, so the layers are uploaded once. Children that are not
// platform images (attestation manifests, nested indexes, platform
// unknown/unknown) are dropped, since they describe the base images.
func Index(base v1.ImageIndex, layers []Layer, md Metadata) (v1.ImageIndex, error) {
	if md.BaseDigest == "" {
		d, err := base.Digest()
		if err != nil {
			return nil, fmt.Errorf("reading base index digest: %w", err)
		}
		md.BaseDigest = d.String()
	}
	im, err := base.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading base index: %w", err)
	}
	mt, err := base.MediaType()
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, mt)
	var adds []mutate.IndexAddendum
	for _, desc := range im.Manifests {
		if !desc.MediaType.IsImage() || desc.Platform == nil || desc.Platform.OS == "unknown" {
			continue
		}
		child, err := base.Image(desc.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading base image %s: %w", desc.Digest, err)
		}
		img, err := Image(child, layers, md)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", desc.Platform, err)
		}
		d := v1.Descriptor{Platform: desc.Platform}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: d})
	}
	if len(adds) == 0 {
		return nil, fmt.Errorf("base index %s has no platform images", md.BaseDigest)
	}
	idx = mutate.AppendManifests(idx, adds...)
	ann := md.labels()
	ann[annotationBaseDigest] = md.BaseDigest
	return mutate.Annotations(idx, ann).(v1.ImageIndex), nil
}

// ReadMetadata returns what a deps image records about itself, from its
// config labels. It fails for an image that is not a deps image.
func ReadMetadata(img v1.Image) (*Metadata, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	l := cf.Config.Labels
	if l[LabelInputsDigest] == "" {
		return nil, fmt.Errorf("not a cachecheck deps image: no %s label", LabelInputsDigest)
	}
	md := &Metadata{
		InputsDigest: l[LabelInputsDigest],
		GoVersion:    l[LabelGoVersion],
		BaseDigest:   l[LabelBaseDigest],
		Version:      l[LabelVersion],
		Contents:     l[LabelContents],
	}
	if s := l[LabelMainModules]; s != "" {
		md.MainModules = strings.Fields(s)
	}
	if s := l[LabelKey]; s != "" {
		if md.Key, err = cachekey.Parse(s); err != nil {
			return nil, fmt.Errorf("label %s: %w", LabelKey, err)
		}
	}
	if md.Layers, err = strconv.Atoi(l[LabelLayers]); err != nil {
		return nil, fmt.Errorf("label %s=%q: %w", LabelLayers, l[LabelLayers], err)
	}
	for _, f := range strings.Fields(l[LabelModules]) {
		p, v, ok := strings.Cut(f, "@")
		if !ok {
			return nil, fmt.Errorf("label %s: %q is not path@version", LabelModules, f)
		}
		md.Modules = append(md.Modules, module.Version{Path: p, Version: v})
	}
	if n, err := strconv.Atoi(l[LabelModuleCount]); err != nil || n != len(md.Modules) {
		return nil, fmt.Errorf("label %s=%q does not match the %d modules of %s", LabelModuleCount, l[LabelModuleCount], len(md.Modules), LabelModules)
	}
	return md, nil
}
