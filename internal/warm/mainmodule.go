package warm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/proc"
	"github.com/cachecheck/cachecheck/internal/publish"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// MainCache is what the main module's layer of a deps image holds (warm
// --build-cache=all).
type MainCache struct {
	// Platform is as in [BuildCache].
	Platform string
	// Revision is the commit the packages were compiled at, and
	// RevisionTime its committer time.
	Revision     string
	RevisionTime time.Time
	Packages     int
	Bytes        struct{ Raw, Compressed int64 }
	Toolchain    string
}

// Revision returns the commit checked out in dir, a git work tree, for
// [WithMainModule]: its hash and committer time. It refuses a work tree
// with changes to tracked files, or Go files git does not track, under
// dir: the packages compiled would be of no commit.
func Revision(ctx context.Context, dir string) (buildcache.Revision, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	git := func(args ...string) (string, error) {
		cmd := proc.Command(ctx, "git", append([]string{"-C", dir}, args...)...)
		out, err := proc.CombinedOutput(cmd)
		if err != nil {
			return "", fmt.Errorf("git %s in %s: %v: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(string(out)))
		}
		return string(out), nil
	}
	out, err := git("log", "-1", "--format=%H %cI")
	if err != nil {
		return buildcache.Revision{}, fmt.Errorf("the main module's packages are compiled at a commit: %w", err)
	}
	f := strings.Fields(out)
	if len(f) != 2 || len(f[0]) < publish.RevisionLen {
		return buildcache.Revision{}, fmt.Errorf("git log in %s printed %q", dir, out)
	}
	t, err := time.Parse(time.RFC3339, f[1])
	if err != nil {
		return buildcache.Revision{}, fmt.Errorf("git log in %s: commit time: %w", dir, err)
	}
	st, err := git("status", "--porcelain", "--untracked-files=all", "--", ".")
	if err != nil {
		return buildcache.Revision{}, err
	}
	var changed []string
	for line := range strings.Lines(st) {
		line = strings.TrimRight(line, "\n")
		if len(line) < 4 {
			continue
		}
		if name := line[3:]; !strings.HasPrefix(line, "??") || strings.HasSuffix(name, ".go") {
			changed = append(changed, name)
		}
	}
	if len(changed) > 0 {
		if len(changed) > 3 {
			changed = append(changed[:3], "...")
		}
		return buildcache.Revision{}, fmt.Errorf("the work tree of %s differs from its commit %s (%s): the main module's packages compiled from it would be of no commit; commit or stash the changes, or leave out --build-cache=all", dir, f[0][:publish.RevisionLen], strings.Join(changed, ", "))
	}
	return buildcache.Revision{Commit: f[0], Time: t}, nil
}

// compiler is what a compile for a platform runs with.
type compiler struct {
	// g is the Go installation; nil for the go command here.
	g *buildcache.GoRoot
	// base is the base image g is from, native when the platform's own
	// (not cross-compiling): its root filesystem can hold the compile.
	base   v1.Image
	digest v1.Hash
	native bool
	// name names the toolchain for the summary; how follows its version
	// ("", ", cross-compiling").
	name, how string
}

// toolchainFor returns the compiler for the platform p: the Go
// installation of the base's image for p when this machine runs it, else
// that of the base's image for this machine (cross-compiling); the go
// command here when the base has none.
func toolchainFor(ctx context.Context, base publish.Artifact, p string) (*compiler, error) {
	c := &compiler{name: "the go command here"}
	var img v1.Image
	var d v1.Hash
	from := p
	switch b := base.(type) {
	case v1.Image:
		img = b
		var err error
		if d, err = b.Digest(); err != nil {
			return nil, err
		}
	case v1.ImageIndex:
		if !strings.HasSuffix(p, "/"+runtime.GOARCH) {
			from = "linux/" + runtime.GOARCH
			c.how = ", cross-compiling"
		}
		im, err := b.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading the base index: %w", err)
		}
		for _, desc := range im.Manifests {
			if platformOf(desc) == from {
				if img, err = b.Image(desc.Digest); err != nil {
					return nil, fmt.Errorf("reading the base's image for %s: %w", from, err)
				}
				d = desc.Digest
				break
			}
		}
	}
	if img == nil {
		return c, nil
	}
	g, err := unpackGoRoot(ctx, img, d)
	if err != nil || g == nil {
		return c, err
	}
	c.g, c.base, c.digest, c.native = g, img, d, from == p
	if c.native {
		c.name = "the base image's " + g.Path
	} else {
		c.name = fmt.Sprintf("the base's %s image's %s", from, g.Path)
	}
	return c, nil
}

// prepare makes the plan of a compile for s with the compiler c: when the
// base has no Go and the build names another release than the go
// command's, with that release's official toolchain, fetched once. With
// cgo (CGO_ENABLED not 0) and the platform's own base image, the go
// command runs inside the base's root filesystem, unpacked once per
// digest, so that the C compiler is the image's: when that cannot be (not
// root), it runs here and says so on stderr. It returns the toolchain's
// name for the summary. A [*BuildCacheError] says the settings cannot be
// compiled for.
func (b *buildCacheStep) prepare(ctx context.Context, dir string, res *modload.Result, s buildcache.Settings, c *compiler) (*buildcache.Plan, string, error) {
	var opts []buildcache.Option
	name := c.name
	if c.g != nil {
		opts = append(opts, buildcache.WithGoRoot(c.g))
	}
	if s.CGOEnabled != "0" && c.native && c.base != nil {
		rf, err := unpackRootFS(ctx, c.base, c.digest)
		if err != nil {
			return nil, "", err
		}
		if rf != nil {
			plan, err := buildcache.Prepare(ctx, dir, res, s, append(opts, buildcache.WithRootFS(rf))...)
			var me *buildcache.MountError
			switch {
			case err == nil:
				return plan, name + " in its root filesystem, with its C compiler", nil
			case errors.As(err, &me):
				fmt.Fprintf(b.stderr, "cachecheck: build cache: %v; compiling here, with this machine's C compiler: the build's cgo packages may miss\n", err)
			default:
				return nil, "", err
			}
		}
	}
	plan, err := buildcache.Prepare(ctx, dir, res, s, opts...)
	if err == nil {
		return plan, name, nil
	}
	var ve *buildcache.VersionError
	if errors.As(err, &ve) && c.g == nil && buildcache.IsRelease(ve.Want) {
		// No Go in the base, and the build names a release other than
		// the go command's: compile with that release's official
		// toolchain, as GOTOOLCHAIN would run it.
		cache, err := goRootCache()
		if err != nil {
			return nil, "", err
		}
		fmt.Fprintf(b.stderr, "cachecheck: build cache: the build uses %s and the go command here is %s: compiling with the official %s toolchain\n", ve.Want, ve.Have, ve.Want)
		ft, ferr := buildcache.FetchToolchain(ctx, ve.Want, runtime.GOOS, runtime.GOARCH, cache, os.Environ(), b.stderr)
		if ferr != nil {
			return nil, "", &BuildCacheError{fmt.Errorf("%w; fetching that toolchain failed: %v", ve, ferr)}
		}
		return b.prepare(ctx, dir, res, s, &compiler{g: ft, name: "the official toolchain of the golang.org/toolchain module", how: c.how})
	}
	if errors.As(err, &ve) {
		return nil, "", &BuildCacheError{err}
	}
	return nil, "", err
}

// addMain appends the main module's layer, its packages compiled at rev
// on top of the build cache of the dependencies, to art: a deps image
// with a build cache layer, or a multi-platform deps index, each of whose
// images with a build cache layer gets one (compiled for its platform
// with the toolchain [toolchainFor] picks on base). On an index the
// revision is an annotation too.
func (b *buildCacheStep) addMain(ctx context.Context, dir string, res *modload.Result, art, base publish.Artifact, rev buildcache.Revision) (_ publish.Artifact, _ []*MainCache, _ func(), err error) {
	var cleanups []func()
	cleanup := func() {
		for _, c := range cleanups {
			c()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	one := func(img v1.Image, platform string) (v1.Image, *MainCache, error) {
		pub, err := buildcache.ReadPublished(img)
		if err != nil {
			return nil, nil, err
		}
		if pub == nil {
			return nil, nil, nil
		}
		p := buildcache.Platform(pub.Settings)
		c, err := toolchainFor(ctx, base, p)
		if err != nil {
			return nil, nil, err
		}
		plan, toolchain, err := b.prepare(ctx, dir, res, pub.Settings, c)
		if err != nil {
			return nil, nil, fmt.Errorf("compiling the main module's packages: %w", err)
		}
		mr, err := plan.BuildMain(ctx, pub.Layer)
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(mr.GoCache) })
		l, err := buildcache.NewMainLayer(mr, buildcache.WithCompression(b.compression), buildcache.WithSpoolDir(b.spool))
		if err != nil {
			return nil, nil, err
		}
		size, err := l.Size()
		if err != nil {
			return nil, nil, err
		}
		out, err := buildcache.MainImage(img, l, mr, rev)
		if err != nil {
			return nil, nil, err
		}
		sum := &MainCache{Platform: platform, Revision: rev.Commit, RevisionTime: rev.Time, Packages: len(mr.Packages),
			Toolchain: fmt.Sprintf("%s (%s)%s", toolchain, mr.Settings.GoVersion, c.how)}
		sum.Bytes.Raw, sum.Bytes.Compressed = l.RawSize, size
		return out, sum, nil
	}
	switch a := art.(type) {
	case v1.Image:
		out, sum, err := one(a, "")
		if err != nil {
			return nil, nil, nil, err
		}
		if out == nil {
			return nil, nil, nil, fmt.Errorf("the deps image has no build cache layer to compile the main module's packages on")
		}
		return out, []*MainCache{sum}, cleanup, nil
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return nil, nil, nil, fmt.Errorf("reading the deps index: %w", err)
		}
		var adds []mutate.IndexAddendum
		var sums []*MainCache
		for _, desc := range im.Manifests {
			child, err := a.Image(desc.Digest)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("reading the deps image %s: %w", desc.Digest, err)
			}
			d := v1.Descriptor{Platform: desc.Platform, Annotations: maps.Clone(desc.Annotations)}
			if desc.Annotations[buildcache.LabelAbsent] == "" {
				out, sum, err := one(child, platformOf(desc))
				if err != nil {
					return nil, nil, nil, fmt.Errorf("platform %s: %w", platformOf(desc), err)
				}
				if out != nil {
					child = out
					sums = append(sums, sum)
				}
			}
			adds = append(adds, mutate.IndexAddendum{Add: child, Descriptor: d})
		}
		if len(sums) == 0 {
			return nil, nil, nil, fmt.Errorf("no image of the deps index has a build cache layer to compile the main module's packages on")
		}
		mt, err := a.MediaType()
		if err != nil {
			return nil, nil, nil, err
		}
		out := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...)
		ann := maps.Clone(im.Annotations)
		if ann == nil {
			ann = map[string]string{}
		}
		ann[buildcache.LabelRevision] = rev.Commit
		ann[buildcache.LabelRevisionTime] = rev.Time.UTC().Format(time.RFC3339)
		return mutate.Annotations(out, ann).(v1.ImageIndex), sums, cleanup, nil
	}
	return nil, nil, nil, fmt.Errorf("the deps image is %T, not an image or index", art)
}

// publishMain adds the main module's layer to deps, the deps image
// published under r.tag (or found there), and publishes the result under
// revTag: [Result.Ref], Digest and the layer counts are then its.
func (r *run) publishMain(ctx context.Context, deps publish.Artifact, revTag string) error {
	t := time.Now()
	r.o.progress(Progress{Phase: "main-module"})
	step := &buildCacheStep{target: r.target, tag: r.tag, compression: r.o.compression, spool: r.spool, stderr: r.o.stderr, progress: r.o.progress}
	art, sums, cleanup, err := step.addMain(ctx, r.dir, r.res, deps, r.base, *r.o.main)
	if err != nil {
		return err
	}
	defer cleanup()
	r.sum.Main = sums
	r.phase("main-module", t)

	t = time.Now()
	rep, err := r.target.Write(ctx, revTag, art)
	if err != nil {
		return err
	}
	if p, ok := r.target.(publish.Pruner); ok {
		if err := p.WriteStamp(ctx, revTag, publish.Stamp{Digest: rep.Digest, Published: time.Now()}); err != nil {
			return err
		}
	}
	r.phase("publish-main", t)
	r.sum.Ref, r.sum.Digest = rep.Ref, rep.Digest.String()
	// The deps image's new layers are not new to the revision's write.
	newL, reused := rep.Counts()
	prev := r.sum.Layers.New
	r.sum.Layers.New, r.sum.Layers.Reused = prev+newL, reused-prev
	r.sum.Bytes.Written += rep.BytesWritten
	return nil
}

// Newest returns the complete image in target with the main module's
// layer ([WithMainModule]) on the deps image tagged tag whose revision is
// the newest by commit time (ties: the greater tag), and what its labels
// say of that layer; nil when the target holds none.
func Newest(ctx context.Context, target publish.Target, tag publish.Tag) (*Found, *buildcache.MainPublished, error) {
	entries, err := target.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	var best *Found
	var bestMain *buildcache.MainPublished
	for _, e := range entries {
		if e.Tag.Revision == "" || e.Tag.Deps() != tag.Deps() {
			continue
		}
		name := e.Tag.String()
		desc, err := target.Lookup(ctx, name)
		if errors.Is(err, publish.ErrNotFound) {
			continue // incomplete: no client could copy it
		} else if err != nil {
			return nil, nil, err
		}
		e.Descriptor = *desc
		m, err := readMain(ctx, target, e)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s in %s: %w", name, target, err)
		}
		if m == nil {
			continue // tagged like one, but without the layer's labels
		}
		if best == nil || m.Revision.Time.After(bestMain.Revision.Time) ||
			m.Revision.Time.Equal(bestMain.Revision.Time) && name > best.Tag.String() {
			best, bestMain = Exact(ctx, target, e), m
		}
	}
	return best, bestMain, nil
}

// readMain reads the main module's layer labels of the entry e: of its
// image, or of the index's annotations.
func readMain(ctx context.Context, target publish.Target, e publish.Entry) (*buildcache.MainPublished, error) {
	img, err := e.Image()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := buildcache.ReadMain(cf.Config.Labels)
	if m != nil || err != nil || !e.Descriptor.MediaType.IsIndex() {
		return m, err
	}
	idx, err := target.Index(ctx, e.Tag.String(), e.Descriptor)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	commit := im.Annotations[buildcache.LabelRevision]
	if commit == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, im.Annotations[buildcache.LabelRevisionTime])
	if err != nil {
		return nil, fmt.Errorf("annotation %s: %w", buildcache.LabelRevisionTime, err)
	}
	return &buildcache.MainPublished{Revision: buildcache.Revision{Commit: commit, Time: t}}, nil
}
