package buildcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RootFS is the root filesystem of a base image, unpacked on this machine,
// for a compile that runs inside it ([WithRootFS]): with cgo, the C
// compiler, its headers and libraries, and the environment the build in
// the image gets, so that the cgo packages' cache keys, which take in the
// C compiler's identity, are those of the build.
type RootFS struct {
	// Dir is where it is unpacked.
	Dir string
	// Env is the image config's environment.
	Env []string
	// GoRoot is its Go installation: Path inside the root filesystem, Dir
	// on this machine.
	GoRoot *GoRoot
}

// UnpackRootFS unpacks the flattened filesystem of img, whose digest is
// digest, under cacheDir/rootfs/<digest hex> (once: a later call finds it
// there), through an [os.Root] as [UnpackGoRoot] does, and returns it. It
// returns nil, nil for an image of another architecture than this
// machine's, or without a Go installation ([UnpackGoRoot] finds it the
// same way).
func UnpackRootFS(ctx context.Context, img v1.Image, digest v1.Hash, cacheDir string) (*RootFS, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the base image's config: %w", err)
	}
	if cf.Architecture != "" && cf.Architecture != runtime.GOARCH {
		return nil, nil
	}
	candidates := goRootCandidates(cf.Config.Env)
	parent := filepath.Join(cacheDir, "rootfs")
	dest := filepath.Join(parent, digest.Hex)
	if _, err := os.Stat(dest); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", parent, err)
		}
		tmp, err := os.MkdirTemp(parent, digest.Hex+".tmp-")
		if err != nil {
			return nil, fmt.Errorf("unpacking the base image's root filesystem: %w", err)
		}
		defer os.RemoveAll(tmp) // after the rename, nothing is left there
		if err := extractUnder(ctx, img, tmp, nil); err != nil {
			return nil, fmt.Errorf("unpacking the base image's root filesystem: %w", err)
		}
		// Whole or not at all, as UnpackGoRoot.
		if err := os.Rename(tmp, dest); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("unpacking the base image's root filesystem: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	g, err := readGoRoot(dest, candidates)
	if err != nil || g == nil {
		return nil, err
	}
	return &RootFS{Dir: dest, Env: cf.Config.Env, GoRoot: g}, nil
}
