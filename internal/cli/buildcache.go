package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/analyzer/gosettings"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"
)

// buildCacheFlags are the flags that say which build cache a deps image
// holds: warm compiles it, ref and report look its image up. The tag of
// such an image ends in buildcache.TagSuffix of the settings.
type buildCacheFlags struct {
	command string // the command, for messages
	enabled bool
	// main is --build-cache=all: the main module's packages too, compiled
	// at the checked-out commit (warm), or the newest image of them (ref,
	// report).
	main       bool
	buildFlags string
	dockerfile string
	// platforms are --platform's: the platforms of a multi-platform deps
	// image's build caches (warm.WithPlatforms).
	platforms []string
	// from says where the last settings came from: "FILE:LINE" of the go
	// build, "--build-flags", or "guessed: " and why no Dockerfile gave
	// them.
	from string
	// fileFlag is the flag that names the Dockerfile: --dockerfile, or
	// the command's own --file.
	fileFlag string
}

// register adds --build-cache (with the help text enabled), --build-flags
// and, when dockerfile is true, --dockerfile to fs.
func (f *buildCacheFlags) register(fs *pflag.FlagSet, command, enabled string, dockerfile bool) {
	f.command = command
	f.fileFlag = "--file" // the command's own flag naming the Dockerfile
	if dockerfile {
		f.fileFlag = "--dockerfile"
	}
	// A boolean flag that also takes =all.
	fs.VarPF(buildCacheValue{f}, "build-cache", "", enabled).NoOptDefVal = "true"
	fs.StringVar(&f.buildFlags, "build-flags", "", "with --build-cache: the build's settings as `'NAME=VALUE... FLAGS'` (e.g. 'CGO_ENABLED=0 -trimpath -tags=netgo'), instead of the Dockerfile's")
	fs.StringSliceVar(&f.platforms, "platform", nil, "with --build-cache: the `OS/ARCH` platforms to compile the build cache for, comma-separated (e.g. linux/amd64,linux/arm64); several need a multi-platform --base (default: the build's, from the Dockerfile's stage, else linux/amd64)")
	if dockerfile {
		fs.StringVar(&f.dockerfile, "dockerfile", "", "with --build-cache: read the build settings from the go build in this `FILE` (default: the one Dockerfile of DIR, or of its build/, scripts/, docker/... directories, that builds Go)")
	}
}

// buildCacheValue is the value of --build-cache: "true" (what the flag
// alone gives; "deps" too) for the dependencies' build cache, "all" for
// the main module's packages as well, "false" for none.
type buildCacheValue struct{ f *buildCacheFlags }

func (v buildCacheValue) String() string {
	switch {
	case v.f == nil || !v.f.enabled:
		return "false"
	case v.f.main:
		return "all"
	}
	return "deps"
}

func (v buildCacheValue) Set(s string) error {
	switch s {
	case "deps", "true":
		v.f.enabled, v.f.main = true, false
	case "all":
		v.f.enabled, v.f.main = true, true
	case "false":
		v.f.enabled, v.f.main = false, false
	default:
		return fmt.Errorf("want true (the flag alone: the dependencies), all (the main module's packages too) or false")
	}
	return nil
}

// Type is "bool" so that the usage shows the flag alone, as a boolean's.
func (v buildCacheValue) Type() string { return "bool" }

// validate rejects the settings flags without --build-cache.
func (f *buildCacheFlags) validate() error {
	if !f.enabled && (f.buildFlags != "" || f.dockerfile != "" || len(f.platforms) > 0) {
		return usageErrorf("%s: --build-flags, --dockerfile and --platform describe the build cache: add --build-cache", f.command)
	}
	for _, p := range f.platforms {
		if _, _, err := buildcache.ParsePlatform(p); err != nil {
			return usageErrorf("%s: --platform: %v", f.command, err)
		}
	}
	return nil
}

// settings returns the build settings of the build cache: --build-flags
// when given, else those of the first go build in --dockerfile, else in
// the Dockerfile of dir that builds Go (analyzer.FindGoDockerfile), with
// the Go release of the base image. Several Dockerfiles that build Go are
// a usage error naming them; when no Dockerfile gives the settings, the
// go command's defaults are used and a line on stderr says so. It returns
// nil when --build-cache is off.
func (f *buildCacheFlags) settings(dir string, base publish.Artifact, stderr io.Writer) (*buildcache.Settings, error) {
	if err := f.validate(); err != nil || !f.enabled {
		return nil, err
	}
	if f.buildFlags != "" {
		return f.settingsFor(nil, "", "", base, stderr)
	}
	if file := f.dockerfile; file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading Dockerfile %q: %w", file, err)
		}
		b, err := analyzer.Parse(file, data)
		if err != nil {
			return nil, err
		}
		return f.settingsFor(b, file, "", base, stderr)
	}
	b, file, err := analyzer.FindGoDockerfile(os.DirFS(dir))
	var fe *analyzer.FindError
	switch {
	case errors.As(err, &fe):
		if len(fe.GoBuilds) > 1 {
			return nil, usageErrorf("%s: --build-cache: %v in %s; name the one whose go build the image serves with --dockerfile (for example --dockerfile %s), or give --build-flags",
				f.command, err, dir, filepath.Join(dir, filepath.FromSlash(fe.GoBuilds[0])))
		}
		if len(fe.GoBuilds) == 0 && len(fe.Unreadable) > 0 {
			// It may be the one that builds Go: guess nothing.
			return nil, fmt.Errorf("%s: --build-cache: reading the build settings: %s; fix it, or give --dockerfile or --build-flags", f.command, strings.Join(fe.Unreadable, "; "))
		}
		return f.settingsFor(nil, "", noSettingsReason(dir, fe), base, stderr)
	case err != nil:
		return nil, err
	}
	return f.settingsFor(b, filepath.ToSlash(file), "", base, stderr)
}

// noSettingsReason says why no Dockerfile of dir gives the build
// settings, from what analyzer.FindGoDockerfile found.
func noSettingsReason(dir string, fe *analyzer.FindError) string {
	if len(fe.Found) == 0 {
		return fmt.Sprintf("no Dockerfile in %s (looked in %s)", dir, analyzer.SearchedDirs())
	}
	return fmt.Sprintf("no go build or go install in the Dockerfiles of %s (%s)", dir, strings.Join(fe.Found, ", "))
}

// settingsFor returns the build settings of the build cache: --build-flags
// when given, else those of the first go build in b, the Dockerfile named
// file, else (b nil) the go command's defaults, which a line on stderr
// names with why, the reason no Dockerfile gave them. The Go release is
// the base image's. It records in f.from where the settings came from. It
// returns nil when --build-cache is off.
func (f *buildCacheFlags) settingsFor(b *analyzer.Build, file, why string, base publish.Artifact, stderr io.Writer) (*buildcache.Settings, error) {
	if err := f.validate(); err != nil || !f.enabled {
		return nil, err
	}
	var s buildcache.Settings
	from := "the go command's defaults"
	switch {
	case f.buildFlags != "":
		var err error
		if s, err = gosettings.Parse(f.buildFlags); err != nil {
			return nil, usageErrorf("%s: --build-flags: %v", f.command, err)
		}
		from = "--build-flags"
	case b != nil:
		builds := b.GoBuilds()
		if len(builds) == 0 {
			return nil, fmt.Errorf("%s has no go build of the module's packages to take the build settings from; give them with --build-flags", file)
		}
		s = builds[0].Settings
		from = fmt.Sprintf("%s:%d", file, builds[0].Instruction.Line)
	}
	s.Normalize()
	if s.ModCache != "/go/pkg/mod" && !s.Trimpath {
		return nil, fmt.Errorf("the build (%s) uses the module cache %s, but deps images hold it at /go/pkg/mod; set GOMODCACHE=/go/pkg/mod or build with -trimpath", from, s.ModCache)
	}
	if base != nil {
		v, err := baseGoVersion(base)
		if err != nil {
			return nil, err
		}
		switch {
		case v == "":
			fmt.Fprintf(stderr, "cachecheck: note: the base image records no Go version (GOLANG_VERSION); the build cache is compiled with its Go installation, or with the go command here when it holds none\n")
		case s.GoVersion != "" && !strings.HasPrefix(v+".", s.GoVersion+".") && v != s.GoVersion:
			return nil, fmt.Errorf("the build (%s) names %s but the base image has %s", from, s.GoVersion, v)
		default:
			s.GoVersion = v
		}
	}
	f.from = from
	if f.buildFlags == "" && b == nil {
		if why == "" {
			why = "no Dockerfile given"
		}
		verb := "looking up the build cache compiled for"
		if f.command == "warm" {
			verb = "compiling the build cache for"
		}
		cgo := ""
		if s.CGOEnabled == "" {
			cgo = ", CGO_ENABLED as the go command sets it (1 when it finds a C compiler)"
		}
		f.from = "guessed: " + why
		fileFlag := f.fileFlag
		if fileFlag == "" {
			fileFlag = "--dockerfile"
		}
		fmt.Fprintf(stderr, "cachecheck: %s: %s %s%s (the go command's defaults); give %s or --build-flags\n", why, verb, s.String(), cgo, fileFlag)
	}
	return &s, nil
}

// baseGoVersion returns the Go release of the base image, as
// imageGoVersion; for a multi-platform index, that of its platform images,
// which must agree.
func baseGoVersion(base publish.Artifact) (string, error) {
	switch b := base.(type) {
	case v1.Image:
		return imageGoVersion(b)
	case v1.ImageIndex:
		im, err := b.IndexManifest()
		if err != nil {
			return "", fmt.Errorf("reading the base index: %w", err)
		}
		v, from := "", ""
		for _, d := range im.Manifests {
			if !d.MediaType.IsImage() || d.Platform == nil || d.Platform.OS == "unknown" {
				continue
			}
			img, err := b.Image(d.Digest)
			if err != nil {
				return "", fmt.Errorf("reading the base image for %s: %w", d.Platform, err)
			}
			pv, err := imageGoVersion(img)
			if err != nil {
				return "", err
			}
			if from != "" && pv != v {
				return "", fmt.Errorf("the base index's images have different Go releases: %s for %s, %s for %s; a build cache of one release serves no other", orNoneVersion(v), from, orNoneVersion(pv), d.Platform)
			}
			v, from = pv, d.Platform.String()
		}
		return v, nil
	}
	return "", nil
}

func orNoneVersion(v string) string {
	if v == "" {
		return "no GOLANG_VERSION"
	}
	return v
}

// imageGoVersion returns the Go release of an image from the GOLANG_VERSION
// its config sets, as the golang images do ("go1.22.3"), or "".
func imageGoVersion(img v1.Image) (string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading base image config: %w", err)
	}
	for _, e := range cf.Config.Env {
		if v, ok := strings.CutPrefix(e, "GOLANG_VERSION="); ok && v != "" {
			return "go" + strings.TrimPrefix(v, "go"), nil
		}
	}
	return "", nil
}

// depsImageBuildCaches reads the build caches recorded in the labels of
// the deps image ref: one for a single image, one per platform that has a
// build cache in a multi-platform one; none when it has no build cache.
func depsImageBuildCaches(ctx context.Context, ref string, opts ...publish.Option) ([]*warm.ImageBuildCache, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, _, err := publish.ResolveBase(ctx, ref, opts...)
	if err != nil {
		return nil, err
	}
	var imgs []v1.Image
	var platforms []string // of each image of an index
	switch a := a.(type) {
	case v1.Image:
		imgs = append(imgs, a)
		platforms = append(platforms, "")
	case v1.ImageIndex:
		im, err := a.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		for _, d := range im.Manifests {
			if !d.MediaType.IsImage() || d.Platform == nil || d.Annotations[buildcache.LabelAbsent] != "" {
				continue
			}
			img, err := a.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading %s for %s: %w", ref, d.Platform, err)
			}
			imgs = append(imgs, img)
			platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
		}
	}
	var out []*warm.ImageBuildCache
	for i, img := range imgs {
		bc, err := warm.ReadBuildCache(img)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, err)
		}
		if bc != nil {
			bc.Platform = platforms[i]
			out = append(out, bc)
		}
	}
	return out, nil
}
