package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// imageConfigs reads the configs of the images a Dockerfile's stages
// start from, for analyzer.WithImageConfig: each image and platform once,
// each read within the registry --timeout. An image that cannot be read
// is noted on stderr; the analyzer then assumes its cache directories.
type imageConfigs struct {
	ctx    context.Context
	reg    *registryFlags
	stderr io.Writer
	// allow says which images may be read; the others are not asked for.
	allow func(ref string) bool
	seen  map[[2]string]bool
}

var errNotRead = errors.New("not read")

func (c *imageConfigs) lookup(ref, platform string) (*analyzer.ImageConfig, error) {
	if !c.allow(ref) {
		return nil, errNotRead
	}
	cf, err := c.read(ref, platform)
	if err != nil {
		if k := [2]string{ref, platform}; !c.seen[k] {
			if c.seen == nil {
				c.seen = map[[2]string]bool{}
			}
			c.seen[k] = true
			fmt.Fprintf(c.stderr, "cachecheck: note: reading image %s: %v; its cache directories are assumed\n", ref, err)
		}
		return nil, err
	}
	return &analyzer.ImageConfig{Env: cf.Config.Env, User: cf.Config.User}, nil
}

func (c *imageConfigs) read(ref, platform string) (*v1.ConfigFile, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.reg.timeout)
	defer cancel()
	a, _, err := publish.ResolveBase(ctx, ref, c.reg.options()...)
	if err != nil {
		return nil, err
	}
	return configFor(a, platform)
}

// configFor returns the config of image a or, for an index, of its image
// for platform ("" for linux/amd64).
func configFor(a publish.Artifact, platform string) (*v1.ConfigFile, error) {
	switch a := a.(type) {
	case v1.Image:
		return a.ConfigFile()
	case v1.ImageIndex:
		if platform == "" {
			platform = "linux/amd64"
		}
		want, err := v1.ParsePlatform(platform)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", platform, err)
		}
		im, err := a.IndexManifest()
		if err != nil {
			return nil, err
		}
		for _, m := range im.Manifests {
			if m.Platform != nil && m.Platform.Satisfies(*want) && m.MediaType.IsImage() {
				img, err := a.Image(m.Digest)
				if err != nil {
					return nil, err
				}
				return img.ConfigFile()
			}
		}
		return nil, fmt.Errorf("no image for %s in the index", platform)
	}
	return nil, fmt.Errorf("not an image or an index")
}
