package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/warm"
)

// depsImageOptions returns the analyzer options of a deps image ref ("" for
// none) that analyze --deps-image and report give Analyze, so that both
// report the same findings: the image (CC011), the configs of the images
// the stages start from — the deps image's, and every base's with
// resolveBases — read through the registry flags (cache directories,
// CC006), and the build settings of the deps image's build cache when it
// has one (CC012). What cannot be read is noted on stderr.
//
// When caches is not nil, it is set to the build caches of the deps image.
func depsImageOptions(ctx context.Context, ref string, resolveBases bool, reg *registryFlags, stderr io.Writer, caches *[]*warm.ImageBuildCache) []analyzer.Option {
	var opts []analyzer.Option
	if ref != "" || resolveBases {
		c := &imageConfigs{ctx: ctx, reg: reg, stderr: stderr, allow: func(r string) bool {
			return resolveBases || r == ref
		}}
		opts = append(opts, analyzer.WithImageConfig(c.lookup))
	}
	if ref == "" {
		return opts
	}
	opts = append(opts, analyzer.WithDepsImage(ref))
	// The build settings of its build cache, if it has one (CC012).
	switch bcs, err := depsImageBuildCaches(ctx, ref, reg.options()...); {
	case err != nil:
		fmt.Fprintf(stderr, "cachecheck: note: reading deps image %s: %v; build settings not compared\n", ref, err)
	case len(bcs) > 0:
		var ss []buildcache.Settings
		for _, bc := range bcs {
			ss = append(ss, bc.Settings)
		}
		opts = append(opts, analyzer.WithDepsImageSettings(ss...))
		if caches != nil {
			*caches = bcs
		}
	}
	return opts
}
