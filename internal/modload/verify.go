package modload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cachecheck/cachecheck/cachekey"
	"golang.org/x/mod/sumdb/dirhash"
)

// VerifyError is a module whose content in the cache does not match go.sum.
type VerifyError struct {
	Path, Version string
	What          string // "zip", "dir" or "go.mod"
	File          string // the file or directory hashed
	Want, Got     string // hash in go.sum, hash of the content
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s@%s: %s %s: checksum mismatch\n\tgo.sum:     %s\n\tdownloaded: %s\nSECURITY ERROR: the module content differs from go.sum; refusing to publish it", e.Path, e.Version, e.What, e.File, e.Want, e.Got)
}

// Verify checks every module of res against the go.sum files of the module
// or workspace in dir (go.sum; or go.work.sum and each used module's go.sum),
// as `go mod verify` does: [dirhash.HashZip] over the zip, [dirhash.HashDir]
// over the extracted tree with prefix path@version, and [dirhash.Hash1] over
// the go.mod file named "go.mod". A module with no go.sum line for its
// content, or a hash that differs, fails with a [*VerifyError] or an error
// naming path@version.
func Verify(ctx context.Context, dir string, res *Result) error {
	_, files, err := moduleFiles(dir)
	if err != nil {
		return err
	}
	sums := map[string][]string{} // "path version" -> hashes
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", f, err)
		}
		entries, err := cachekey.ParseSum(f, data)
		if err != nil {
			return err
		}
		for _, e := range entries {
			k := e.Path + " " + e.Version
			sums[k] = append(sums[k], e.Hash)
		}
	}
	for _, m := range res.Modules {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := verifyModule(m, sums); err != nil {
			return err
		}
	}
	return nil
}

func verifyModule(m Module, sums map[string][]string) error {
	want := sums[m.Path+" "+m.Version]
	if len(want) == 0 {
		return fmt.Errorf("%s@%s: missing go.sum entry; run 'go mod tidy' to add it", m.Path, m.Version)
	}
	check := func(what, file, got string, want []string) error {
		for _, w := range want {
			if w == got {
				return nil
			}
		}
		return &VerifyError{Path: m.Path, Version: m.Version, What: what, File: file, Want: want[0], Got: got}
	}
	if m.Zip != "" {
		got, err := dirhash.HashZip(m.Zip, dirhash.Hash1)
		if err != nil {
			return fmt.Errorf("%s@%s: hashing zip: %w", m.Path, m.Version, err)
		}
		if err := check("zip", m.Zip, got, want); err != nil {
			return err
		}
	}
	if m.Dir != "" {
		if _, err := os.Stat(m.Dir); err == nil {
			got, err := dirhash.HashDir(m.Dir, m.Path+"@"+m.Version, dirhash.Hash1)
			if err != nil {
				return fmt.Errorf("%s@%s: hashing directory: %w", m.Path, m.Version, err)
			}
			if err := check("dir", m.Dir, got, want); err != nil {
				return err
			}
		}
	}
	if m.GoMod != "" {
		wantMod := sums[m.Path+" "+m.Version+"/go.mod"]
		got, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(m.GoMod) })
		if err != nil {
			return fmt.Errorf("%s@%s: hashing go.mod: %w", m.Path, m.Version, err)
		}
		if len(wantMod) == 0 {
			// go.sum may omit the go.mod line of a module whose content
			// line it has; the go command then checks it against the
			// checksum database. The hash must at least agree with the
			// one the go command computed.
			if m.GoModSum != "" && m.GoModSum != got {
				return &VerifyError{Path: m.Path, Version: m.Version, What: "go.mod", File: m.GoMod, Want: m.GoModSum, Got: got}
			}
			return nil
		}
		if err := check("go.mod", m.GoMod, got, wantMod); err != nil {
			return err
		}
	}
	return nil
}
