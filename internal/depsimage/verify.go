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
