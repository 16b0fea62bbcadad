package cli

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/cachecheck/cachecheck/reports"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"
)

type refOptions struct {
	to         string
	base       string
	contents   *enumValue
	fallback   string
	nearest    bool
	registry   registryFlags
	format     *enumValue
	buildCache buildCacheFlags
}

func newRefCommand() *command {
	o := &refOptions{
		contents: newEnum(depsimage.DefaultContents, depsimage.ContentsFull, depsimage.ContentsZips),
		format:   newEnum("text", "text", "json"),
	}
	fs := pflag.NewFlagSet("ref", pflag.ContinueOnError)
	fs.StringVar(&o.to, "to", "", "look in `TARGET`, as given to warm (default oci:DIR/"+defaultOCIDir+")")
	fs.StringVar(&o.base, "base", "", "the --base `REF` warm was given; the tag depends on its digest")
	fs.Var(o.contents, "contents", "the --contents warm was given: full or zips")
	fs.StringVar(&o.fallback, "fallback", "", "print `IMAGE` when no deps image is found")
	fs.BoolVar(&o.nearest, "nearest", false, "when the key has no image, print the one sharing the most modules")
	o.registry.register(fs, "allow plain HTTP and unverified TLS for the registry of --to and --base")
	fs.Var(o.format, "format", "output format: text or json")
	o.buildCache.register(fs, "ref", "find the image 'warm --build-cache' published: with the dependencies compiled for the build settings of the Dockerfile's go build (or --build-flags); --build-cache=all: the newest image 'warm --build-cache=all' published, with the main module's packages too, else the deps image", true)
	return &command{
		name:    "ref",
		summary: "print the reference of the deps image for a Go module",
		usage:   "[--to TARGET] [--base REF] [--build-cache[=all] [--build-flags FLAGS] [--platform OS/ARCH,...]] [--nearest] [--fallback IMAGE] [DIR]",
		help: `
Ref prints the reference of the deps image that 'cachecheck warm' published
for the current key of the module or workspace in DIR (default "."), for a
Dockerfile's ARG DEPS_IMAGE:

	docker build --build-arg DEPS_IMAGE=$(cachecheck ref --to REPO --fallback golang:1.26) .

For a registry it prints REPO:TAG@DIGEST, which FROM and COPY --from
accept and which pins the content; for an OCI layout
oci-layout://DIR@DIGEST, for 'docker buildx build --build-context'; for a
tarball the REPO:TAG 'docker load' gives it.

When the key has no image, --nearest picks the published image (on the same
base, with the same contents) whose recorded module list shares the most
modules with go.sum: a build from it downloads only the rest, and go.sum
still verifies everything. Otherwise --fallback IMAGE is printed. With
neither, or when nothing is found, ref fails (exit 1) and says to run warm.
What was chosen, when not the exact key, is said on standard error.

--build-cache finds the image 'cachecheck warm --build-cache' published:
give the same --base, and the same --build-flags (or the same Dockerfile,
--dockerfile) so that the build settings, and so the -bc<12 hex> part of
the tag, are the same. --nearest then considers only images with that
build cache; without --build-cache, only images without one. With --format
json, "build_cache" holds the settings the image's build cache was compiled
for, read from its labels (null when it has none).

--build-cache=all finds, among the images 'warm --build-cache=all'
published for the key and settings (one a commit), the one of the newest
commit (by commit time), whose build cache also holds the main module's
packages; with none, the deps image as --build-cache does, saying so on
standard error. "build_cache.main_module" then names the commit.`,
		examples: `
cachecheck ref --to registry.example.com/team/app-deps
cachecheck ref --to registry.example.com/team/app-deps --nearest --fallback golang:1.26
cachecheck ref --to registry.example.com/team/app-deps --base registry.example.com/mirror/golang:1.26.8 --build-cache --nearest
cachecheck ref --to registry.example.com/team/app-deps --base registry.example.com/mirror/golang:1.26.8 --build-cache=all`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}
}

func (o *refOptions) validate(args []string) error {
	if err := o.registry.validate(); err != nil {
		return err
	}
	if err := maxArgs("ref", args, 1); err != nil {
		return err
	}
	if err := o.buildCache.validate(); err != nil {
		return err
	}
	return checkBase("--base", o.base)
}

func (o *refOptions) run(ctx context.Context, io IO, args []string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	target, err := targetFor(o.to, dir, o.registry.options()...)
	if err != nil {
		return err
	}
	key, err := cachekey.ComputeDir(dir)
	if err != nil {
		return err
	}
	var base publish.Artifact
	var baseDigest *v1.Hash
	if o.base != "" {
		a, d, err := publish.ResolveBase(ctx, o.base, o.registry.options()...)
		if err != nil {
			return err
		}
		base, baseDigest = a, &d
	}
	settings, err := o.buildCache.settings(dir, base, io.Err)
	if err != nil {
		return err
	}
	tag, err := warm.TagFor(key.Key, base, baseDigest, o.contents.String(), settings, o.buildCache.platforms)
	if err != nil {
		return err
	}
	doc := &reports.Ref{Key: key.Key, Tag: tag.String(), Target: target.String()}
	if o.buildCache.main {
		newest, m, err := warm.Newest(ctx, target, tag)
		if err != nil {
			return err
		}
		if newest != nil {
			doc.Tag, doc.Ref, doc.Match = newest.Tag.String(), newest.Ref, "exact"
			fmt.Fprintf(io.Err, "cachecheck: the newest image with the main module's packages is of commit %s (%s)\n", m.Revision.Commit, m.Revision.Time.UTC().Format(time.RFC3339))
			return o.print(io, doc, newest)
		}
		fmt.Fprintf(io.Err, "cachecheck: no image with the main module's packages for %s in %s ('cachecheck warm --build-cache=all' publishes one); looking for the deps image\n", tag, target)
	}
	found, err := warm.Lookup(ctx, target, tag, key, warm.WithNearest(o.nearest))
	if found != nil && found.Incomplete != nil {
		fmt.Fprintf(io.Err, "cachecheck: %v; 'cachecheck warm' rebuilds it\n", found.Incomplete)
	}
	if err != nil {
		return err
	}
	switch found.Match {
	case warm.MatchExact:
		doc.Ref, doc.Match = found.Ref, "exact"
		return o.print(io, doc, found)
	case warm.MatchNearest:
		doc.Ref, doc.Match = found.Ref, "nearest"
		doc.Shared, doc.Wanted = found.Shared, found.Wanted
		fmt.Fprintf(io.Err, "cachecheck: no deps image for %s in %s; nearest is %s, holding %d of the %d modules go.sum names\n",
			tag, target, found.Tag, found.Shared, found.Wanted)
		return o.print(io, doc, found)
	}
	if o.fallback != "" {
		fmt.Fprintf(io.Err, "cachecheck: no deps image for %s in %s; using the fallback %s\n", tag, target, o.fallback)
		doc.Ref, doc.Match = o.fallback, "fallback"
		return o.print(io, doc, nil)
	}
	to := ""
	if o.to != "" {
		to = " --to " + o.to
	}
	if settings != nil {
		to += " --build-cache"
	}
	return fmt.Errorf("no deps image for %s in %s; run 'cachecheck warm%s' to publish it", tag, target, to)
}

// print prints the reference, or with --format json the document with
// the build cache of the image found (nil for the fallback) read from its
// labels.
func (o *refOptions) print(io IO, doc *reports.Ref, found *warm.Found) error {
	format := reports.Format(o.format.String())
	if format == reports.JSON && found != nil {
		bcs, err := found.BuildCaches()
		if err != nil {
			return fmt.Errorf("reading %s: %w", doc.Ref, err)
		}
		for _, bc := range bcs {
			rb := &reports.RefBuildCache{Platform: bc.Platform, Settings: bc.Settings.String(), Digest: bc.Settings.Digest(), Packages: bc.Packages}
			if m := bc.Main; m != nil {
				rb.MainModule = &reports.RefMainModule{Revision: m.Revision.Commit, RevisionTime: m.Revision.Time, Packages: m.Packages}
			}
			if bc.Platform != "" {
				doc.BuildCaches = append(doc.BuildCaches, rb)
			}
			if doc.BuildCache == nil || bc.Platform == "linux/"+runtime.GOARCH {
				doc.BuildCache = rb
			}
		}
	}
	return reports.Write(io.Out, format, doc)
}

// checkBase checks the syntax of a base image reference given as flag ("" for none):
// a bad one is a usage error, found before any work.
func checkBase(flag, ref string) error {
	if ref == "" {
		return nil
	}
	if err := publish.CheckBase(ref); err != nil {
		return usageErrorf("%s %q: %v", flag, ref, err)
	}
	return nil
}
