package buildcache

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/layer"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Labels of a deps image whose build cache also holds the main module's
// packages, compiled at a commit (warm --build-cache=all).
const (
	// LabelRevision is the commit's full hash.
	LabelRevision = "org.cachecheck.build-cache.revision"
	// LabelRevisionTime is the commit's committer time, RFC 3339: what
	// "newest" means among the images of one key and settings.
	LabelRevisionTime = "org.cachecheck.build-cache.revision-time"
	// LabelMainPackages is the number of main module packages compiled.
	LabelMainPackages = "org.cachecheck.build-cache.main.packages.count"
	// LabelMainBytes is the number of bytes of their cache files.
	LabelMainBytes = "org.cachecheck.build-cache.main.bytes"
	// LabelMainPackageList lists their import paths, space-separated.
	LabelMainPackageList = "org.cachecheck.build-cache.main.packages"
)

// mainLayerTitle is the title annotation of the main module's layer.
const mainLayerTitle = "Go build cache: main module"

// Revision is the commit the main module's packages are compiled at.
type Revision struct {
	// Commit is the commit's full hash, lower-case hex.
	Commit string
	// Time is its committer time.
	Time time.Time
}

// MainResult is a build cache of the main module's packages, compiled on
// top of the dependencies' ([Plan.BuildMain]).
type MainResult struct {
	// GoCache is the build cache directory: the dependencies' entries
	// and the main module's.
	GoCache string
	// Files are the cache files the main module's packages added, as
	// slash-separated paths relative to GoCache, sorted.
	Files []string
	// Settings are the plan's.
	Settings Settings
	// Packages are the main module's packages compiled, [Plan.Own].
	Packages []string
}

// BuildMain compiles the main module's packages of the plan ([Plan.Own]:
// every package of a main module the main packages import; no tests, and
// not the main packages, whose compile depends on what the build stamps
// into them: -ldflags, the version control state) on
// top of deps, the build cache layer of the dependencies compiled for the
// plan's settings (a layer [NewLayer] packed, or [Published.Layer]): it
// unpacks deps into the plan's build cache, compiles, and returns the
// files the compile added. Nothing is linked. The plan's build cache must
// be empty: a plan from [Prepare], not yet built.
//
// Without -trimpath the directory of every package enters its cache key,
// and the main module's is where warm runs, not where the build does: the
// entries would serve a build only in the same directory, so BuildMain
// refuses settings without -trimpath.
func (p *Plan) BuildMain(ctx context.Context, deps v1.Layer) (_ *MainResult, err error) {
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if !p.Settings.Trimpath {
		return nil, fmt.Errorf("compiling the main module's packages: the build does not use -trimpath, so the directory it compiles in enters every package's cache key, and warm compiles in %s: build with -trimpath to ship the main module's packages", p.r.dir)
	}
	if len(p.Own) == 0 {
		return nil, &NoMainPackagesError{Main: p.Main}
	}
	prefix := strings.TrimPrefix(path.Clean(p.Settings.GoCache), "/")
	before, err := unpackCacheLayer(ctx, deps, prefix, p.goCache)
	if err != nil {
		return nil, fmt.Errorf("unpacking the dependencies' build cache: %w", err)
	}
	// go list -export compiles every listed package, as go build would,
	// for the export data it prints, and links nothing.
	args := append([]string{"list", "-export", "-f", "{{.ImportPath}}"}, buildFlags(p.Settings)...)
	args = append(args, "--")
	if _, err := p.r.run(ctx, append(args, p.Own...)...); err != nil {
		return nil, err
	}
	if err := normalizeCache(p.goCache); err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(p.goCache, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(p.goCache, name)
		if err != nil {
			return err
		}
		if rel := filepath.ToSlash(rel); !before[rel] {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading build cache: %w", err)
	}
	slices.Sort(files)
	return &MainResult{GoCache: p.goCache, Files: files, Settings: p.Settings, Packages: p.Own}, nil
}

// NoMainPackagesError is [Plan.BuildMain] finding no package to compile:
// the main packages import no other package of the main modules.
type NoMainPackagesError struct{ Main []string }

func (e *NoMainPackagesError) Error() string {
	return fmt.Sprintf("compiling the main module's packages: %s import no other package of the module: nothing to compile but them, and a build compiles its main packages anyway", strings.Join(e.Main, " "))
}

// unpackCacheLayer writes the cache files of l, a build cache layer with
// the cache at prefix, into dir, each dated [KeepTime] as in the image,
// and returns their paths relative to dir. Only directories and regular
// files under prefix are taken; it writes through an [os.Root] on dir.
func unpackCacheLayer(ctx context.Context, l v1.Layer, prefix, dir string) (map[string]bool, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	files := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		rel, ok := strings.CutPrefix(name, prefix+"/")
		if !ok || !fs.ValidPath(rel) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(rel, 0o755); err != nil {
				return nil, err
			}
		case tar.TypeReg:
			if err := root.MkdirAll(path.Dir(rel), 0o755); err != nil {
				return nil, err
			}
			f, err := root.OpenFile(rel, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = root.Chtimes(rel, KeepTime, KeepTime)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name, err)
			}
			files[rel] = true
		default:
			return nil, fmt.Errorf("%s: not a directory or regular file (type %q)", h.Name, h.Typeflag)
		}
	}
}

// MainLayer is the main module's build cache files as an image layer.
type MainLayer struct {
	v1.Layer
	// Files is the number of cache files in the layer.
	Files int
	// RawSize is the number of bytes of cache files.
	RawSize int64
}

// NewMainLayer packs the files the main module's packages added to the
// build cache of r into a layer at r.Settings.GoCache, as [NewLayer] packs
// the dependencies' (modes, owners and times): a layer that goes on top
// of theirs.
func NewMainLayer(r *MainResult, opts ...LayerOption) (*MainLayer, error) {
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
	dirs := map[string]bool{}
	for _, name := range r.Files {
		info, err := os.Lstat(filepath.Join(r.GoCache, filepath.FromSlash(name)))
		if err != nil {
			return nil, fmt.Errorf("reading build cache: %w", err)
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("build cache file %s: not a regular file", name)
		}
		if d := path.Dir(name); d != "." && !dirs[d] {
			dirs[d] = true
			files = append(files, layer.File{Name: d, Dir: true, Mode: 0o755})
		}
		files = append(files, layer.File{Name: name, Mode: 0o644, Size: info.Size(), ModTime: KeepTime})
		raw += info.Size()
	}
	slices.SortFunc(files, func(a, b layer.File) int { return strings.Compare(a.Name, b.Name) })
	l, err := layer.New(r.GoCache, files,
		layer.WithDir(prefix),
		layer.WithSource("build cache"),
		layer.WithEpoch(o.epoch),
		layer.WithCompression(compression.Compression(o.compression)),
		layer.WithLevel(o.level),
		layer.WithTarballCompression(),
		layer.WithSpoolDir(o.spoolDir))
	if err == nil {
		_, err = l.Digest()
	}
	if err != nil {
		return nil, fmt.Errorf("packing the main module's build cache: %w", err)
	}
	return &MainLayer{Layer: l, Files: len(r.Files), RawSize: raw}, nil
}

// MainImage appends the main module's layer l to img, a deps image with a
// build cache layer for the same settings, and records the revision and
// counts as labels (see [LabelRevision]) and manifest annotations.
func MainImage(img v1.Image, l *MainLayer, r *MainResult, rev Revision) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:       l.Layer,
		MediaType:   mt,
		Annotations: map[string]string{"org.opencontainers.image.title": mainLayerTitle},
		History: v1.History{
			Created:   cf.Created,
			CreatedBy: fmt.Sprintf("cachecheck warm --build-cache=all: the main module's %d packages compiled at %s", len(r.Packages), rev.Commit),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("appending the main module's build cache layer: %w", err)
	}
	labels := map[string]string{
		LabelRevision:     rev.Commit,
		LabelRevisionTime: rev.Time.UTC().Format(time.RFC3339),
		LabelMainPackages: strconv.Itoa(len(r.Packages)),
		LabelMainBytes:    strconv.FormatInt(l.RawSize, 10),
		// What a prediction of the packages a build FROM the image
		// compiles takes as compiled (PredictCompile).
		LabelMainPackageList: strings.Join(r.Packages, " "),
	}
	return depsimage.Label(img, nil, labels, nil)
}

// MainPublished is what a deps image's labels say of its main module
// layer.
type MainPublished struct {
	Revision Revision
	// Packages and RawSize are the counts of its labels.
	Packages int
	RawSize  int64
	// List are the import paths of the packages.
	List []string
}

// ReadMain returns what the labels of img's config, a deps image, say of
// its main module layer; nil when it has none.
func ReadMain(labels map[string]string) (*MainPublished, error) {
	commit := labels[LabelRevision]
	if commit == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, labels[LabelRevisionTime])
	if err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelRevisionTime, err)
	}
	n, err := strconv.Atoi(labels[LabelMainPackages])
	if err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelMainPackages, err)
	}
	raw, err := strconv.ParseInt(labels[LabelMainBytes], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("label %s: %w", LabelMainBytes, err)
	}
	return &MainPublished{Revision: Revision{Commit: commit, Time: t}, Packages: n, RawSize: raw, List: strings.Fields(labels[LabelMainPackageList])}, nil
}
