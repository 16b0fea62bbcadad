package depsimage

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"io"
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
	"github.com/google/go-containerregistry/pkg/compression"
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

// LargeModule is the size of a module's files in the cache (its zip and
// extracted tree together) from which it gets a layer of its own rather than
// a share of a bucket, so that bumping a small module never sends a giant
// again. Measured on prometheus's module set (BenchmarkBuckets, 16 buckets,
// 4 such modules, among them github.com/aws/aws-sdk-go at 344 MB): the bytes
// re-sent after bumping one module average 11.8 MB (2.7% of the image)
// with it against 27.8 MB (6.5%) without, and at most 79 MB (the largest
// module's own layer) against 148 MB. A module's layer depends only on its
// own size, so it stays put while other modules change.
const LargeModule = 64 << 20

// bucketOf returns the bucket of a module path: a stable hash of the path,
// the same whatever the version, on any machine.
func bucketOf(modPath string, n int) int {
	h := fnv.New32a()
	io.WriteString(h, modPath)
	return int(h.Sum32() % uint32(n))
}

// ownerOf returns the module path a file of the module cache belongs to, or
// "" for files that belong to no module (such as the checksum database
// cache). rel is a slash path below the module cache.
func ownerOf(rel string) string {
	p, err := module.UnescapePath(escapedOwner(rel))
	if err != nil {
		return ""
	}
	return p
}

// escapedOwner returns the escaped module path in rel, the name of a file
// of the module cache, or "" for files that belong to no module.
func escapedOwner(rel string) string {
	if r, ok := strings.CutPrefix(rel, "cache/download/"); ok {
		if strings.HasPrefix(r, "sumdb/") {
			return ""
		}
		i := strings.Index(r, "/@v/")
		if i < 0 {
			return ""
		}
		return r[:i]
	}
	if strings.HasPrefix(rel, "cache/") {
		return ""
	}
	// An extracted tree: escaped/path@version/...
	at := strings.Index(rel, "@")
	if at < 0 {
		return ""
	}
	return rel[:at]
}

// owners is ownerOf remembering its answers: a module has hundreds of
// files, and unescaping and checking its path for each cost 0.07 s of the
// walk of prometheus's module cache.
type owners map[string]string

func (o owners) of(rel string) string {
	esc := escapedOwner(rel)
	p, ok := o[esc]
	if !ok {
		p = ownerOf(rel)
		o[esc] = p
	}
	return p
}

// fileKind says what a file of the module cache is, and so how the packer
// checks it against what was verified.
type fileKind uint8

const (
	kindMeta    fileKind = iota // the checksum database cache: verified by the go command against its signed tree
	kindTree                    // a file of an extracted module tree: hashed into the tree's h1
	kindZip                     // cache/download/…/@v/V.zip: sha256 of the zip that was verified
	kindGoMod                   // cache/download/…/@v/V.mod: h1 of go.mod in go.sum
	kindZipHash                 // cache/download/…/@v/V.ziphash: go.sum's h1
	kindInfo                    // cache/download/…/@v/V.info: JSON naming the version
)

// classifier says which files of a module cache go into the image: those
// of the verified modules (their zips, .mod, .ziphash and .info files and
// extracted trees), the .mod and .info files of the other versions go.sum
// gives a go.mod hash for (the go command reads them to load the module
// graph), and the checksum database cache. Everything else stays out,
// whatever its name: the go command's own temporary state (lock files,
// partial downloads, temporary files and directories, which it writes in
// cache/download and beside the trees, never inside one), the VCS cache,
// which holds clones of repositories and their remote URLs, version lists,
// and modules nobody verified. Inside a verified tree every file is kept:
// a module may ship any name (templates.tmpl, flake.lock).
type classifier struct {
	ver      *modload.Verified
	zipsOnly bool
	trees    map[string]module.Version // "escaped path@escaped version" of each verified module
}

func newClassifier(ver *modload.Verified, zipsOnly bool) *classifier {
	c := &classifier{ver: ver, zipsOnly: zipsOnly, trees: map[string]module.Version{}}
	for _, m := range ver.Modules() {
		if m.Dir == "" {
			continue
		}
		ep, err1 := module.EscapePath(m.Path)
		ev, err2 := module.EscapeVersion(m.Version)
		if err1 == nil && err2 == nil {
			c.trees[ep+"@"+ev] = m.ModuleVersion()
		}
	}
	return c
}

// treeRoot returns the extracted tree rel lies in, "escaped path@version",
// and whether rel is in one (or is one).
func treeRoot(rel string) (string, bool) {
	at := strings.IndexByte(rel, '@')
	if at < 0 {
		return "", false
	}
	if end := strings.IndexByte(rel[at:], '/'); end >= 0 {
		return rel[:at+end], true
	}
	return rel, true
}

// descend reports whether the walk enters the directory rel.
func (c *classifier) descend(rel string) bool {
	switch {
	case rel == "cache", rel == "cache/download", strings.HasPrefix(rel, "cache/download/"):
		return true
	case strings.HasPrefix(rel, "cache/"):
		return false // cache/vcs and whatever else the go command keeps there
	case c.zipsOnly:
		return false
	}
	root, ok := treeRoot(rel)
	if !ok {
		return true // a directory of module path elements
	}
	_, verified := c.trees[root]
	return verified
}

// file says what the file rel is, and whether it goes into the image.
func (c *classifier) file(rel string) (entry, bool) {
	if r, ok := strings.CutPrefix(rel, "cache/download/"); ok {
		if strings.HasPrefix(r, "sumdb/") {
			return entry{kind: kindMeta}, true
		}
		i := strings.Index(r, "/@v/")
		if i < 0 {
			return entry{}, false
		}
		name := r[i+len("/@v/"):]
		var kind fileKind
		var ext string
		for _, k := range []struct {
			ext  string
			kind fileKind
		}{{".zip", kindZip}, {".mod", kindGoMod}, {".ziphash", kindZipHash}, {".info", kindInfo}} {
			if strings.HasSuffix(name, k.ext) {
				kind, ext = k.kind, k.ext
				break
			}
		}
		if ext == "" || strings.Contains(name, "/") {
			return entry{}, false // lock files, partial and temporary files, version lists
		}
		p, err1 := module.UnescapePath(r[:i])
		v, err2 := module.UnescapeVersion(strings.TrimSuffix(name, ext))
		if err1 != nil || err2 != nil {
			return entry{}, false
		}
		m := module.Version{Path: p, Version: v}
		switch kind {
		case kindGoMod, kindInfo:
			if !c.ver.HasGoMod(m) && !c.ver.Downloaded(m) {
				return entry{}, false
			}
		default:
			if !c.ver.Downloaded(m) {
				return entry{}, false
			}
		}
		return entry{kind: kind, mod: m}, true
	}
	if strings.HasPrefix(rel, "cache/") || c.zipsOnly {
		return entry{}, false
	}
	root, ok := treeRoot(rel)
	if !ok || root == rel {
		return entry{}, false // a file among module path elements, or beside the trees
	}
	m, ok := c.trees[root]
	if !ok {
		return entry{}, false
	}
	return entry{kind: kindTree, mod: m, off: len(root) + 1}, true
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
// order, the fixed one first. A module lands in the same bucket whatever its
// version. The layers are streamed from the cache when read, never held in
// memory; their bytes depend only on the files and the options.
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

	// Buckets 0..n-1 are public modules, n the private ones, n+1 the rest,
	// n+2... the large modules.
	n := o.buckets
	type owned struct {
		entry
		owner string
	}
	var files []owned
	ownerSize := map[string]int64{}
	groups := make([][]entry, n+2)
	groupMods := make([]map[module.Version]bool, n+2)
	for i := range groupMods {
		groupMods[i] = map[module.Version]bool{}
	}
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
		files = append(files, owned{entry: e})
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
	own := owners{}
	for i := range files {
		f := &files[i]
		f.owner = own.of(f.rel)
		ownerSize[f.owner] += f.size
	}
	// A module of LargeModule bytes or more gets a layer of its own, after
	// the buckets, so that bumping a module that shares its bucket does
	// not send it again.
	var large []string
	for owner, size := range ownerSize {
		if owner != "" && size >= LargeModule && !(o.private != "" && module.MatchPrefixPatterns(o.private, owner)) {
			large = append(large, owner)
		}
	}
	slices.Sort(large)
	for range large {
		groups = append(groups, nil)
		groupMods = append(groupMods, map[module.Version]bool{})
	}
	for _, f := range files {
		g := n + 1
		switch {
		case f.owner == "":
		case o.private != "" && module.MatchPrefixPatterns(o.private, f.owner):
			g = n
		default:
			if i, ok := slices.BinarySearch(large, f.owner); ok {
				g = n + 2 + i
			} else {
				g = bucketOf(f.owner, n)
			}
		}
		groups[g] = append(groups[g], f.entry)
		for _, v := range downloaded[f.owner] {
			groupMods[g][v] = true
		}
	}

	lopts := []layer.Option{
		layer.WithDir(ModCacheDir),
		layer.WithSource("module cache"),
		layer.WithEpoch(o.epoch),
		layer.WithCompression(compression.Compression(o.compression)),
		layer.WithLevel(o.level),
		layer.WithConcurrency(o.concurrency),
		layer.WithSpoolDir(o.spoolDir),
	}
	var layers []Layer
	order := append([]int{n + 1}, seq(n)...)
	for i := range large {
		order = append(order, n+2+i)
	}
	order = append(order, n)
	for _, g := range order {
		files := groups[g]
		if len(files) == 0 {
			continue
		}
		dirs := map[string]bool{}
		for _, f := range files {
			for d := path.Dir(f.rel); d != "."; d = path.Dir(d) {
				if dirs[d] {
					break
				}
				dirs[d] = true
			}
		}
		var raw int64
		for _, f := range files {
			raw += f.size
		}
		all := slices.Clip(slices.Clone(files))
		for d := range dirs {
			all = append(all, entry{rel: d, dir: true, mode: dirMode[d]})
		}
		slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.rel, b.rel) })
		mods := make([]module.Version, 0, len(groupMods[g]))
		for v := range groupMods[g] {
			mods = append(mods, v)
		}
		slices.SortFunc(mods, func(a, b module.Version) int {
			if c := strings.Compare(a.Path, b.Path); c != 0 {
				return c
			}
			return strings.Compare(a.Version, b.Version)
		})
		name := "module cache metadata"
		switch {
		case g < n:
			name = fmt.Sprintf("modules %02d of %02d", g+1, n)
		case g == n:
			name = "private modules"
		case g >= n+2:
			name = "module " + large[g-n-2]
		}
		lf := make([]layer.File, len(all))
		for i, e := range all {
			lf[i] = layer.File{Name: e.rel, Dir: e.dir, Mode: e.mode, Size: e.size}
		}
		l, err := layer.New(root, lf, append(lopts, layer.WithCheck(func() layer.Checker { return newVerifier(ver, root, all) }))...)
		if err != nil {
			return nil, err
		}
		layers = append(layers, Layer{Layer: l, Name: name, Modules: mods, Files: len(all), RawSize: raw})
	}
	return layers, nil
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
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
