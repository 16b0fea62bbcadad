package depsimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"path"
	"path/filepath"
	"strings"

	"github.com/cachecheck/cachecheck/internal/layer"
	"github.com/cachecheck/cachecheck/internal/modload"
	"golang.org/x/mod/module"
)

// verifier checks the files of a layer against what ver verified as they
// are packed (see [Layers]): one pass over the files of entries, in order.
type verifier struct {
	ver     *modload.Verified
	root    string
	entries []entry

	h     hash.Hash
	sum   [sha256.Size]byte
	small *bytes.Buffer // a .ziphash or .info file as read
	// The hashes of the files of each tree, checked whole at the end.
	trees   map[module.Version][]modload.FileHash
	order   []module.Version
	treeDir map[module.Version]string
}

var _ layer.Checker = (*verifier)(nil)

func newVerifier(ver *modload.Verified, root string, entries []entry) *verifier {
	return &verifier{ver: ver, root: root, entries: entries, h: sha256.New(),
		trees: map[module.Version][]modload.FileHash{}, treeDir: map[module.Version]string{}}
}

func (v *verifier) name(e *entry) string { return filepath.Join(v.root, filepath.FromSlash(e.rel)) }

// Begin returns where the bytes of the i-th entry go to be checked.
func (v *verifier) Begin(i int) (io.Writer, error) {
	e := &v.entries[i]
	switch e.kind {
	case kindMeta:
		return nil, nil
	case kindZipHash, kindInfo:
		if e.size > maxSmallFile {
			return nil, fmt.Errorf("packing %s: %d bytes is too large for a %s file", v.name(e), e.size, path.Ext(e.rel))
		}
		v.small = &bytes.Buffer{}
		return v.small, nil
	}
	v.h.Reset()
	return v.h, nil
}

// End checks the i-th entry as it was read, or for a file of a tree
// records its hash.
func (v *verifier) End(i int) error {
	e := &v.entries[i]
	if e.kind == kindMeta {
		return nil
	}
	if v.small == nil {
		v.h.Sum(v.sum[:0])
	}
	small := v.small
	v.small = nil
	switch e.kind {
	case kindTree:
		if _, ok := v.trees[e.mod]; !ok {
			v.order = append(v.order, e.mod)
			v.treeDir[e.mod] = filepath.Join(v.root, filepath.FromSlash(e.rel[:e.off-1]))
		}
		v.trees[e.mod] = append(v.trees[e.mod], modload.FileHash{Name: e.rel[e.off:], SHA256: v.sum})
		return nil
	case kindZip:
		return v.ver.CheckZip(e.mod, v.sum, v.name(e))
	case kindGoMod:
		return v.ver.CheckGoMod(e.mod, v.sum, v.name(e))
	case kindZipHash:
		return v.ver.CheckZipHash(e.mod, small.Bytes(), v.name(e))
	case kindInfo:
		return checkInfo(e.mod, small.Bytes(), v.name(e))
	}
	return nil
}

// Close checks the trees whole: a file missing from one, or one too many,
// changes its hash as much as a changed file does.
func (v *verifier) Close() error {
	for _, m := range v.order {
		if err := v.ver.CheckTree(m, v.trees[m], v.treeDir[m]); err != nil {
			return err
		}
	}
	return nil
}

// maxSmallFile bounds the .ziphash and .info files the packer reads into
// memory to check them; the go command writes them under 200 bytes.
const maxSmallFile = 64 << 10

// checkInfo checks a .info file as the packer read it: the JSON the go
// command writes, naming the version it belongs to. go.sum covers no .info
// file, so this is all that can be checked; the go command reads only the
// version and time from it.
func checkInfo(m module.Version, data []byte, name string) error {
	var info struct{ Version string }
	if err := json.Unmarshal(data, &info); err != nil {
		return fmt.Errorf("%s: %s is not a module info file: %v; refusing to publish it", m, name, err)
	}
	if info.Version != m.Version {
		return fmt.Errorf("%s: %s names version %q; refusing to publish it", m, name, info.Version)
	}
	return nil
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
