package modload

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/cachekey"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
)

// VerifyError is a module whose content in the cache does not match go.sum.
type VerifyError struct {
	Path, Version string
	What          string // "zip", "dir", "go.mod", or one of those "as packed"
	File          string // the file or directory hashed
	Want, Got     string // hash in go.sum, hash of the content
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s@%s: %s %s: checksum mismatch\n\tgo.sum:     %s\n\tdownloaded: %s\nSECURITY ERROR: the module content differs from go.sum; refusing to publish it", e.Path, e.Version, e.What, e.File, e.Want, e.Got)
}

// Verified is what [Verify] checked: the hashes go.sum gives and the
// modules it found matching them. A packer checks what it reads against
// it ([Verified.CheckTree], [Verified.CheckZip], [Verified.CheckGoMod]), so
// that what it publishes is what was verified, byte for byte, however the
// cache changed after Verify.
type Verified struct {
	sums map[string][]string // "path version" and "path version/go.mod" -> hashes
	mods map[module.Version]*verifiedModule
}

type verifiedModule struct {
	Module
	zipSHA256 string // hex sha256 of the zip file Verify hashed
	goModSum  string // the go.mod hash the .mod file must have
}

// VerifyOption configures [Verify].
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	trees bool
}

// TreesWhenRead leaves the extracted trees to the caller, which hashes each
// file as it reads it and checks the tree with [Verified.CheckTree]: a tree
// is then read once, not twice. Zips and go.mod files are verified as
// usual. The default hashes the trees too, as `go mod verify` does.
func TreesWhenRead() VerifyOption {
	return func(o *verifyOptions) { o.trees = false }
}

// Verify checks every module of res against the go.sum files of the module
// or workspace in dir (go.sum; or go.work.sum and each used module's go.sum),
// as `go mod verify` does: [dirhash.HashZip] over the zip, [dirhash.HashDir]
// over the extracted tree with prefix path@version, and [dirhash.Hash1] over
// the go.mod file named "go.mod". A module with no go.sum line for its
// content, or a hash that differs, fails with a [*VerifyError] or an error
// naming path@version.
func Verify(ctx context.Context, dir string, res *Result, opts ...VerifyOption) (*Verified, error) {
	o := verifyOptions{trees: true}
	for _, opt := range opts {
		opt(&o)
	}
	_, files, err := moduleFiles(dir)
	if err != nil {
		return nil, err
	}
	v := &Verified{sums: map[string][]string{}, mods: map[module.Version]*verifiedModule{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f, err)
		}
		entries, err := cachekey.ParseSum(f, data)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			k := e.Path + " " + e.Version
			if !slices.Contains(v.sums[k], e.Hash) {
				v.sums[k] = append(v.sums[k], e.Hash)
			}
		}
	}
	for _, m := range res.Modules {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		vm, err := v.verifyModule(m, o.trees)
		if err != nil {
			return nil, err
		}
		v.mods[m.ModuleVersion()] = vm
	}
	return v, nil
}

func (v *Verified) verifyModule(m Module, trees bool) (*verifiedModule, error) {
	vm := &verifiedModule{Module: m}
	want := v.sums[m.Path+" "+m.Version]
	if len(want) == 0 {
		return nil, fmt.Errorf("%s@%s: missing go.sum entry; run 'go mod tidy' to add it", m.Path, m.Version)
	}
	check := func(what, file, got string, want []string) error {
		if slices.Contains(want, got) {
			return nil
		}
		return &VerifyError{Path: m.Path, Version: m.Version, What: what, File: file, Want: want[0], Got: got}
	}
	if m.Zip != "" {
		got, sha, err := hashZip(m.Zip)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: hashing zip: %w", m.Path, m.Version, err)
		}
		if err := check("zip", m.Zip, got, want); err != nil {
			return nil, err
		}
		vm.zipSHA256 = sha
	}
	if m.Dir != "" && trees {
		if _, err := os.Stat(m.Dir); err == nil {
			got, err := dirhash.HashDir(m.Dir, m.Path+"@"+m.Version, dirhash.Hash1)
			if err != nil {
				return nil, fmt.Errorf("%s@%s: hashing directory: %w", m.Path, m.Version, err)
			}
			if err := check("dir", m.Dir, got, want); err != nil {
				return nil, err
			}
		}
	}
	if m.GoMod != "" {
		wantMod := v.sums[m.Path+" "+m.Version+"/go.mod"]
		got, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(m.GoMod) })
		if err != nil {
			return nil, fmt.Errorf("%s@%s: hashing go.mod: %w", m.Path, m.Version, err)
		}
		if len(wantMod) == 0 {
			// go.sum may omit the go.mod line of a module whose content
			// line it has; the go command then checks it against the
			// checksum database. The hash must at least agree with the
			// one the go command computed.
			if m.GoModSum != "" && m.GoModSum != got {
				return nil, &VerifyError{Path: m.Path, Version: m.Version, What: "go.mod", File: m.GoMod, Want: m.GoModSum, Got: got}
			}
			vm.goModSum = got
			return vm, nil
		}
		if err := check("go.mod", m.GoMod, got, wantMod); err != nil {
			return nil, err
		}
		vm.goModSum = got
	}
	return vm, nil
}

// hashZip returns the dirhash of a module zip, as [dirhash.HashZip]
// computes it, and the sha256 of the file's bytes, both read from one open
// file, so that a packer can check that the zip it publishes is the zip
// that was verified.
func hashZip(name string) (h1, sha string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", "", err
	}
	sh := sha256.New()
	if n, err := io.Copy(sh, f); err != nil {
		return "", "", err
	} else if n != info.Size() {
		return "", "", fmt.Errorf("%s changed size while it was read", name)
	}
	z, err := zip.NewReader(f, info.Size())
	if err != nil {
		return "", "", err
	}
	var files []string
	zfiles := map[string]*zip.File{}
	for _, zf := range z.File {
		files = append(files, zf.Name)
		zfiles[zf.Name] = zf
	}
	h1, err = dirhash.Hash1(files, func(name string) (io.ReadCloser, error) {
		zf := zfiles[name]
		if zf == nil {
			return nil, fmt.Errorf("file %q not found in zip", name) // cannot happen
		}
		return zf.Open()
	})
	if err != nil {
		return "", "", err
	}
	return h1, hex.EncodeToString(sh.Sum(nil)), nil
}

// Modules returns the verified modules, sorted by path and version.
func (v *Verified) Modules() []Module {
	ms := make([]Module, 0, len(v.mods))
	for _, m := range v.mods {
		ms = append(ms, m.Module)
	}
	slices.SortFunc(ms, func(a, b Module) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return ms
}

// Downloaded reports whether m is one of the verified modules, whose zip
// and tree may be published.
func (v *Verified) Downloaded(m module.Version) bool { return v.mods[m] != nil }

// HasGoMod reports whether go.sum (or the go command, for a verified
// module) gives the hash of m's go.mod, so that its .mod file may be
// published after [Verified.CheckGoMod].
func (v *Verified) HasGoMod(m module.Version) bool {
	if vm := v.mods[m]; vm != nil && vm.goModSum != "" {
		return true
	}
	return len(v.sums[m.Path+" "+m.Version+"/go.mod"]) > 0
}

// FileHash is one file of a module tree and the sha256 of its content.
type FileHash struct {
	Name   string // slash path inside the tree
	SHA256 [sha256.Size]byte
}

// CheckTree checks the files of m's extracted tree, as a packer read them,
// against go.sum: their [dirhash.Hash1] with prefix path@version must be
// the module's hash. A missing, extra or changed file fails.
func (v *Verified) CheckTree(m module.Version, files []FileHash, where string) error {
	if v.mods[m] == nil {
		return fmt.Errorf("%s@%s: not a verified module; refusing to publish its tree", m.Path, m.Version)
	}
	got, err := treeHash(m.Path+"@"+m.Version, files)
	if err != nil {
		return fmt.Errorf("%s@%s: hashing tree: %w", m.Path, m.Version, err)
	}
	want := v.sums[m.Path+" "+m.Version]
	if !slices.Contains(want, got) {
		return &VerifyError{Path: m.Path, Version: m.Version, What: "dir as packed", File: where, Want: want[0], Got: got}
	}
	return nil
}

// treeHash is [dirhash.Hash1] over the files of a tree whose contents are
// already hashed: the sha256 of the sorted lines "<hex sha256>  <name>\n".
// dirhash.Hash1 opens each file itself; a packer hashes each file once, as
// it writes it.
func treeHash(prefix string, files []FileHash) (string, error) {
	lines := make([]string, len(files))
	for i, f := range files {
		name := prefix + "/" + f.Name
		if strings.Contains(name, "\n") {
			return "", errors.New("dirhash: filenames with newlines are not supported")
		}
		lines[i] = fmt.Sprintf("%x  %s\n", f.SHA256, name)
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[2*sha256.Size+2:], b[2*sha256.Size+2:]) })
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// CheckZip checks the sha256 of m's zip, as a packer read it, against the
// zip Verify hashed.
func (v *Verified) CheckZip(m module.Version, sha [sha256.Size]byte, where string) error {
	vm := v.mods[m]
	if vm == nil || vm.zipSHA256 == "" {
		return fmt.Errorf("%s@%s: zip %s was not verified; refusing to publish it", m.Path, m.Version, where)
	}
	if got := hex.EncodeToString(sha[:]); got != vm.zipSHA256 {
		return &VerifyError{Path: m.Path, Version: m.Version, What: "zip as packed (sha256)", File: where, Want: vm.zipSHA256, Got: got}
	}
	return nil
}

// CheckGoMod checks the sha256 of m's .mod file, as a packer read it,
// against go.sum's go.mod hash (or the go command's, for a verified module
// whose go.sum line it lacks).
func (v *Verified) CheckGoMod(m module.Version, sha [sha256.Size]byte, where string) error {
	sum := sha256.Sum256(fmt.Appendf(nil, "%x  go.mod\n", sha))
	got := "h1:" + base64.StdEncoding.EncodeToString(sum[:])
	want := v.sums[m.Path+" "+m.Version+"/go.mod"]
	if len(want) == 0 {
		if vm := v.mods[m]; vm != nil && vm.goModSum != "" {
			want = []string{vm.goModSum}
		}
	}
	if len(want) == 0 {
		return fmt.Errorf("%s@%s: go.mod %s has no go.sum entry; refusing to publish it", m.Path, m.Version, where)
	}
	if !slices.Contains(want, got) {
		return &VerifyError{Path: m.Path, Version: m.Version, What: "go.mod as packed", File: where, Want: want[0], Got: got}
	}
	return nil
}

// CheckZipHash checks the content of m's .ziphash file, as a packer read
// it, against go.sum: it must hold the module's hash.
func (v *Verified) CheckZipHash(m module.Version, content []byte, where string) error {
	if v.mods[m] == nil {
		return fmt.Errorf("%s@%s: %s belongs to no verified module; refusing to publish it", m.Path, m.Version, where)
	}
	want := v.sums[m.Path+" "+m.Version]
	got := strings.TrimSpace(string(content))
	if !slices.Contains(want, got) {
		return &VerifyError{Path: m.Path, Version: m.Version, What: "ziphash as packed", File: where, Want: want[0], Got: got}
	}
	return nil
}
