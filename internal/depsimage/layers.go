package depsimage

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cachecheck/cachecheck/internal/layer"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/charlievieth/fastwalk"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/mod/module"
)

// ModCacheDir is where the module cache lies in the image.
const ModCacheDir = "go/pkg/mod"

// Layer is one layer of a deps image with what it holds.
type Layer struct {
	v1.Layer
	// Name says which part of the cache the layer holds: "modules 03 of
	// 16", "private modules" or "module cache metadata".
	Name string
	// Modules are the downloaded modules whose files the layer holds,
	// sorted.
	Modules []module.Version
	// Files is the number of files and directories in the layer.
	Files int
	// RawSize is the number of bytes of file content in the layer.
	RawSize int64
}

// entry is one file or directory of the module cache.
type entry struct {
	rel  string // slash path below the module cache
	dir  bool
	mode fs.FileMode // normalised permission bits
	size int64
	kind fileKind
	mod  module.Version // the module a file of a module belongs to
	off  int            // for a file of a tree: where its name in the tree starts in rel
}

// normMode keeps what the go command chose (read-only trees, executable
// bits) and drops what the umask and the owner chose.
func normMode(m fs.FileMode, dir bool) fs.FileMode {
	w := m&0o200 != 0
	switch {
	case dir && w:
		return 0o755
	case dir:
		return 0o555
	case m&0o100 != 0 && w:
		return 0o755
	case m&0o100 != 0:
		return 0o555
	case w:
		return 0o644
	default:
		return 0o444
	}
}

// Layers packs the module cache of res into layers: one per non-empty
// bucket of public modules, one of modules matching the private patterns
// and one of the rest of the cache (the checksum database cache), in that
// order, the fixed one first (see [plan]). A module lands in the same
// bucket whatever its version. The layers are streamed from the cache when
// read, never held in memory; their bytes depend only on the files and the
// options (see [layer.New]).
//
// Only what ver verified goes in (see [classifier]), and every file is
// checked against ver as it is read for the layer: a tree's files hash to
// its go.sum line, a zip is the zip that was verified, a .mod file hashes
// to go.sum's go.mod line. A layer whose files differ fails to read, so an
// image whose bytes would not pass `go mod verify` is never published.
// Every verified module must be in the cache whole: its zip, its .mod file
// and, with the full contents, its tree.
func Layers(res *modload.Result, ver *modload.Verified, opts ...Option) ([]Layer, error) {
	o, err := defaultOptions()
	if err != nil {
		return nil, err
	}
	o.private = res.GoPrivate
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	root := res.GoModCache
	if root == "" {
		return nil, fmt.Errorf("packing layers: no module cache")
	}
	if ver == nil {
		return nil, fmt.Errorf("packing layers: the module cache was not verified")
	}
	cls := newClassifier(ver, o.contents == ContentsZips)
	type part struct {
		mod  module.Version
		kind fileKind
	}
	seen := map[part]bool{} // the parts of verified modules the walk found
	downloaded := map[string][]module.Version{}
	for _, m := range res.Modules {
		downloaded[m.Path] = append(downloaded[m.Path], m.ModuleVersion())
	}

	var files []entry
	// Walk the cache with several goroutines: stat-ing 77,000 files one
	// after another took 0.48 s of a 5 s warm of prometheus's module set,
	// with a CPU idle. The order of the walk does not matter: every layer
	// sorts its entries.
	var mu sync.Mutex
	dirMode := map[string]fs.FileMode{} // directories, with their modes on disk
	err = fastwalk.Walk(&fastwalk.Config{}, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading module cache: %w", err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if !cls.descend(rel) {
				return filepath.SkipDir
			}
		} else {
			if _, ok := cls.file(rel); !ok {
				return nil
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("module cache file %s: not a regular file (%s)", p, d.Type())
			}
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading module cache: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if d.IsDir() {
			// Directories are added as parents of files.
			dirMode[rel] = normMode(info.Mode().Perm(), true)
			if m, ok := cls.trees[rel]; ok {
				seen[part{m, kindTree}] = true
			}
			return nil
		}
		e, _ := cls.file(rel)
		e.rel, e.mode, e.size = rel, normMode(info.Mode().Perm(), false), info.Size()
		files = append(files, e)
		if e.kind != kindMeta && e.kind != kindTree {
			seen[part{e.mod, e.kind}] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range ver.Modules() {
		mv := m.ModuleVersion()
		for _, need := range []struct {
			kind fileKind
			file string
			what string
		}{{kindZip, m.Zip, "zip"}, {kindGoMod, m.GoMod, "go.mod file"}, {kindTree, m.Dir, "extracted tree"}} {
			if need.file == "" || (need.kind == kindTree && o.contents == ContentsZips) || seen[part{mv, need.kind}] {
				continue
			}
			return nil, fmt.Errorf("%s: %s %s is missing from the module cache %s; run warm again", m, need.what, need.file, root)
		}
	}
	lopts := slices.Clip(append([]layer.Option{layer.WithDir(ModCacheDir), layer.WithSource("module cache")}, o.layer...))
	var layers []Layer
	for _, g := range plan(files, o.buckets, o.private, downloaded) {
		dirs := map[string]bool{}
		for _, f := range g.files {
			for d := path.Dir(f.rel); d != "."; d = path.Dir(d) {
				if dirs[d] {
					break
				}
				dirs[d] = true
			}
		}
		var raw int64
		for _, f := range g.files {
			raw += f.size
		}
		all := slices.Clip(slices.Clone(g.files))
		for d := range dirs {
			all = append(all, entry{rel: d, dir: true, mode: dirMode[d]})
		}
		slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.rel, b.rel) })
		lf := make([]layer.File, len(all))
		for i, e := range all {
			lf[i] = layer.File{Name: e.rel, Dir: e.dir, Mode: e.mode, Size: e.size}
		}
		l, err := layer.New(root, lf, append(lopts, layer.WithCheck(func() layer.Checker { return newVerifier(ver, root, all) }))...)
		if err != nil {
			return nil, err
		}
		layers = append(layers, Layer{Layer: l, Name: g.name, Modules: g.mods, Files: len(all), RawSize: raw})
	}
	return layers, nil
}

// Pack computes the digest of every layer, packing each once, as many
// layers at a time as there are CPUs (GOMAXPROCS), and returns the total
// compressed size. It is the packing cost of a warm without the upload, for
// benchmarks, and makes the later Digest, DiffID and Size calls free.
func Pack(layers []Layer) (int64, error) {
	work := make(chan Layer)
	errs := make(chan error, len(layers))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(layers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range work {
				if _, err := l.Digest(); err != nil {
					errs <- fmt.Errorf("packing layer %q: %w", l.Name, err)
				}
			}
		}()
	}
	for _, l := range LargestFirst(layers) {
		work <- l
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return 0, err
		}
		total += s
	}
	return total, nil
}

// LargestFirst returns the layers in the order to pack them in, several at
// a time: the largest first, so that a big layer does not start last and
// pack alone while the other CPUs idle (a bucket can hold half the cache:
// prometheus's module set puts 805 of 1624 MB in one). The order of the
// layers in the image does not change.
func LargestFirst(layers []Layer) []Layer {
	s := slices.Clone(layers)
	slices.SortStableFunc(s, func(a, b Layer) int { return cmp.Compare(b.RawSize, a.RawSize) })
	return s
}
