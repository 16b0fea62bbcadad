package buildcache

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/envlist"
	"github.com/cachecheck/cachecheck/internal/layer"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// KeepTime is the modification time of every cache entry in the layer.
//
// The go command deletes cache entries whose modification time is more
// than five days (and an hour) old whenever it trims the cache, which it
// does at the end of any command that opened the cache when trim.txt is
// missing or names a time more than a day ago (cmd/go/internal/cache,
// DiskCache.Trim). It refreshes an entry's time when it uses it, but only
// if that time is more than an hour in the past. A fixed time in the past
// (the Unix epoch, SOURCE_DATE_EPOCH) would thus make every entry not used
// by the first go command in the image vanish: a "go mod download" step
// before the build would empty the cache. A fixed time in the future
// keeps the entries through every trim until then, and the bytes stay
// reproducible. 2100-01-01 fits the ustar header.
var KeepTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// entryTime is the creation time written into every cache index entry
// (the "-a" files), in Unix nanoseconds: the go command records when it
// stored an entry, which would make the bytes differ from run to run; it
// uses the time only to expire test results.
const entryTime = 0

// normalizeCache makes the build cache reproducible: it removes files that
// are not cache entries (trim.txt, which holds the time of the last trim)
// and fixes the creation times in the index entries.
func normalizeCache(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading build cache: %w", err)
	}
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if e.Name() == "README" {
			continue
		}
		if !e.IsDir() || !isHexDir(e.Name()) {
			if err := os.RemoveAll(name); err != nil {
				return fmt.Errorf("cleaning build cache: %w", err)
			}
			continue
		}
		files, err := os.ReadDir(name)
		if err != nil {
			return fmt.Errorf("reading build cache: %w", err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f.Name(), "-a") {
				continue
			}
			if err := fixEntryTime(filepath.Join(name, f.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func isHexDir(s string) bool {
	if len(s) != 2 {
		return false
	}
	_, err := strconv.ParseUint(s, 16, 8)
	return err == nil && strings.ToLower(s) == s
}

// fixEntryTime rewrites the time of an index entry, which the go command
// writes as "v1 <action id> <output id> <size:%20d> <time:%20d>\n".
func fixEntryTime(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("reading cache entry: %w", err)
	}
	f := strings.Fields(string(data))
	if len(f) != 5 || f[0] != "v1" || !bytes.HasSuffix(data, []byte("\n")) {
		return fmt.Errorf("cache entry %s: unknown format %q", name, data)
	}
	size, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return fmt.Errorf("cache entry %s: size %q: %w", name, f[3], err)
	}
	fixed := fmt.Sprintf("v1 %s %s %20d %20d\n", f[1], f[2], size, entryTime)
	if len(fixed) != len(data) {
		return fmt.Errorf("cache entry %s: unknown format %q", name, data)
	}
	return os.WriteFile(name, []byte(fixed), 0o644)
}

// Layer is the build cache as an image layer.
type Layer struct {
	v1.Layer
	// Path is where the cache lies in the image, without the leading
	// slash: the settings' GOCACHE.
	Path string
	// Files is the number of cache files in the layer.
	Files int
	// RawSize is the number of bytes of cache files.
	RawSize int64
}

// LayerOption configures [NewLayer].
type LayerOption func(*layerOptions) error

type layerOptions struct {
	compression string
	level       int
	epoch       time.Time
	spoolDir    string
}

// WithCompression sets the compression of the layer, "gzip" or "zstd".
// The default is gzip.
func WithCompression(c string) LayerOption {
	return func(o *layerOptions) error {
		if c != "gzip" && c != "zstd" {
			return fmt.Errorf("compression %q: want gzip or zstd", c)
		}
		o.compression = c
		return nil
	}
}

// WithCompressionLevel sets the compression level. The default is the
// compressor's default.
func WithCompressionLevel(level int) LayerOption {
	return func(o *layerOptions) error { o.level = level; return nil }
}

// WithEpoch sets the modification time of the directories and the README
// (cache entries get [KeepTime]). The default is SOURCE_DATE_EPOCH when
// set, else the Unix epoch.
func WithEpoch(t time.Time) LayerOption {
	return func(o *layerOptions) error { o.epoch = t.UTC(); return nil }
}

// WithSpoolDir keeps the layer's compressed bytes in a temporary file in
// dir, written when NewLayer packs it, so that the upload reads the file
// instead of compressing again. The file goes with dir. The default is "":
// every read of Compressed compresses anew.
func WithSpoolDir(dir string) LayerOption {
	return func(o *layerOptions) error { o.spoolDir = dir; return nil }
}

// NewLayer packs the build cache of r into a layer at r.Settings.GoCache:
// sorted entries, uid and gid 0, directories 0755 (all 256 of the go
// command's subdirectories, so that it need not create them), files 0644,
// cache entries with the modification time [KeepTime]. It reads the cache
// once to compute the layer's digests, and streams the files from the cache
// directory again each time it is read, unless spooled.
func NewLayer(r *Result, opts ...LayerOption) (*Layer, error) {
	epoch, err := layer.SourceDateEpoch()
	if err != nil {
		return nil, err
	}
	o := layerOptions{compression: "gzip", level: -1, epoch: epoch}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	prefix := strings.TrimPrefix(path.Clean(r.Settings.GoCache), "/")
	if prefix == "" || prefix == "." || !fs.ValidPath(prefix) {
		return nil, fmt.Errorf("build cache path %q: want an absolute directory", r.Settings.GoCache)
	}
	var files []layer.File
	var raw int64
	for i := range 256 {
		files = append(files, layer.File{Name: fmt.Sprintf("%02x", i), Dir: true, Mode: 0o755})
	}
	err = filepath.WalkDir(r.GoCache, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading build cache: %w", err)
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(r.GoCache, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("build cache file %s: not a regular file", p)
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading build cache: %w", err)
		}
		f := layer.File{Name: filepath.ToSlash(rel), Mode: 0o644, Size: info.Size(), ModTime: KeepTime}
		if f.Name == "README" {
			f.ModTime = time.Time{} // the epoch
		}
		files = append(files, f)
		raw += info.Size()
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b layer.File) int { return strings.Compare(a.Name, b.Name) })
	l, err := layer.New(r.GoCache, files,
		layer.WithDir(prefix),
		layer.WithSource("build cache"),
		layer.WithEpoch(o.epoch),
		layer.WithCompression(compression.Compression(o.compression)),
		layer.WithLevel(o.level),
		// The compression of tarball.LayerFromOpener, which packed this
		// layer before: the same cache gives the same digest as then.
		layer.WithTarballCompression(),
		layer.WithSpoolDir(o.spoolDir))
	if err == nil {
		_, err = l.Digest()
	}
	if err != nil {
		return nil, fmt.Errorf("packing build cache: %w", err)
	}
	return &Layer{Layer: l, Path: prefix, Files: len(files) - 256, RawSize: raw}, nil
}

// Image appends the build cache layer to img, a deps image: the config's
// GOCACHE is set to the layer's path, the settings are recorded as labels
// and manifest annotations (see [Labels]), and a history entry says what
// the layer holds. The layer's history time is the config's creation time.
func Image(img v1.Image, l *Layer, r *Result) (v1.Image, error) {
	return appendLayer(img, Published{Layer: l.Layer, Settings: r.Settings, Packages: len(r.Packages), RawSize: l.RawSize})
}

// layerTitle is the title annotation of the build cache layer in the
// manifest.
const layerTitle = "Go build cache"

func appendLayer(img v1.Image, p Published) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	mt, err := p.Layer.MediaType()
	if err != nil {
		return nil, err
	}
	// Where NewLayer put the cache.
	dir := strings.TrimPrefix(path.Clean(p.Settings.GoCache), "/")
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:       p.Layer,
		MediaType:   mt,
		Annotations: map[string]string{"org.opencontainers.image.title": layerTitle},
		History: v1.History{
			Created:   cf.Created,
			CreatedBy: fmt.Sprintf("cachecheck warm --build-cache: Go build cache at /%s (%d packages compiled with %s)", dir, p.Packages, p.Settings),
			Comment:   fmt.Sprintf("cache entries dated %s so that the go command's trimming keeps them", KeepTime.Format("2006-01-02")),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("appending build cache layer: %w", err)
	}
	labels := Labels(p.Settings)
	labels[LabelPackages] = strconv.Itoa(p.Packages)
	labels[LabelBytes] = strconv.FormatInt(p.RawSize, 10)
	return depsimage.Label(img, func(cf *v1.ConfigFile) {
		cf.Config.Env = envlist.Set(cf.Config.Env, "GOCACHE", "/"+dir)
	}, labels, nil)
}

// Published is the build cache layer of a published deps image, as
// [ReadPublished] finds it.
type Published struct {
	// Layer is the build cache of the dependencies: the image's last
	// layer, or the one under the main module's.
	v1.Layer
	// Settings are the settings its labels record.
	Settings Settings
	// Packages and RawSize are the counts of its labels: packages
	// compiled, bytes of cache files.
	Packages int
	RawSize  int64
	// Created is the image's creation time, which dates the layer's
	// history entry.
	Created time.Time
}

// ReadPublished returns the build cache layer of img, a deps image that
// [Image] made; nil when img has none (no build cache labels, or its last
// layer, or the one under the main module's layer of [MainImage], is not
// titled as the build cache).
func ReadPublished(img v1.Image) (*Published, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	s, ok, err := ReadSettings(cf.Config.Labels)
	if err != nil || !ok {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading image manifest: %w", err)
	}
	last := len(m.Layers) - 1
	if last > 0 && m.Layers[last].Annotations["org.opencontainers.image.title"] == mainLayerTitle {
		last-- // the main module's layer goes on the dependencies'
	}
	if last < 0 || m.Layers[last].Annotations["org.opencontainers.image.title"] != layerTitle {
		return nil, nil
	}
	n, err := strconv.Atoi(cf.Config.Labels[LabelPackages])
	if err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelPackages, err)
	}
	raw, err := strconv.ParseInt(cf.Config.Labels[LabelBytes], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelBytes, err)
	}
	l, err := img.LayerByDigest(m.Layers[last].Digest)
	if err != nil {
		return nil, fmt.Errorf("reading the build cache layer: %w", err)
	}
	return &Published{Layer: l, Settings: s, Packages: n, RawSize: raw, Created: cf.Created.Time}, nil
}

// Reuse appends the published build cache layer p to img, a deps image,
// as [Image] appends a layer it packed: for the same layer, settings and
// counts the config and manifest are those [Image] writes.
func Reuse(img v1.Image, p *Published) (v1.Image, error) {
	return appendLayer(img, *p)
}
