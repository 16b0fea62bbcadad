package analyzer

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
)

// LoadOption configures Load and Parse: where the Dockerfile is, what it is
// called and the build arguments.
type LoadOption func(*loadOptions) error

type loadOptions struct {
	dockerfileFS fs.FS
	dockerfile   string
	displayName  string
	contextName  string
	buildArgs    map[string]string
	// loadOnly names the options given that only Load reads, for Parse
	// to refuse.
	loadOnly []string
}

func newLoadOptions(opts []LoadOption) (*loadOptions, error) {
	o := &loadOptions{dockerfile: "Dockerfile", buildArgs: map[string]string{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithDockerfile reads the Dockerfile from name in fsys rather than from
// the build context. A nil fsys means the build context. A
// "<name>.dockerignore" beside it takes precedence over the context's
// .dockerignore, as in BuildKit. Load only. The default is "Dockerfile" in
// the context.
func WithDockerfile(fsys fs.FS, name string) LoadOption {
	return func(o *loadOptions) error {
		if !fs.ValidPath(name) {
			return fmt.Errorf("the Dockerfile path %q is not a slash-separated relative path", name)
		}
		o.dockerfileFS, o.dockerfile = fsys, name
		o.loadOnly = append(o.loadOnly, "WithDockerfile")
		return nil
	}
}

// WithContextName sets the name of the build context in errors and
// findings about its files, such as its .dockerignore: the directory the
// user typed. Load only. The default is none: "DIR/.dockerignore" is
// ".dockerignore".
func WithContextName(name string) LoadOption {
	return func(o *loadOptions) error {
		o.contextName = name
		o.loadOnly = append(o.loadOnly, "WithContextName")
		return nil
	}
}

// WithDisplayName sets the name of the Dockerfile in errors and findings,
// such as the path the user typed. Load only: Parse takes the name as an
// argument. The default is the path given to WithDockerfile.
func WithDisplayName(name string) LoadOption {
	return func(o *loadOptions) error {
		o.displayName = name
		o.loadOnly = append(o.loadOnly, "WithDisplayName")
		return nil
	}
}

// WithBuildArgs sets build arguments, as docker build --build-arg does. The
// default is none.
func WithBuildArgs(args map[string]string) LoadOption {
	return func(o *loadOptions) error {
		for k, v := range args {
			o.buildArgs[k] = v
		}
		return nil
	}
}

// Option configures Analyze: which rules run and what they compare the
// build with.
type Option func(*options) error

type options struct {
	imageConfig  ImageConfigFunc
	depsImage    string
	depsSettings []gosettings.Settings
	disabled     map[string]bool
	buildKit     *bool
}

func newOptions(opts []Option) (*options, error) {
	o := &options{disabled: map[string]bool{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// WithDepsImage names the published dependency image (ref) that builder
// stages could start from; with it, Analyze suggests the FROM line to write
// (rule CC011). The default is no image.
func WithDepsImage(ref string) Option {
	return func(o *options) error { o.depsImage = ref; return nil }
}

// WithDepsImageSettings gives the build settings recorded in the deps
// image (its build cache layer's labels, read by the caller): one for a
// single image, one per platform with a build cache for a multi-platform
// one, where each go build is compared with its own platform's (its GOOS
// and GOARCH), or the first's when none is for it. With them, Analyze
// reports every go build whose settings differ (rule CC012). The settings
// are normalized. The default is none: no comparison.
func WithDepsImageSettings(ss ...gosettings.Settings) Option {
	return func(o *options) error {
		for _, s := range ss {
			s.Normalize()
			o.depsSettings = append(o.depsSettings, s)
		}
		return nil
	}
}

// ImageConfig is what Analyze uses of an image's config: its environment
// and user.
type ImageConfig struct {
	// Env holds NAME=VALUE entries, as in an OCI image config.
	Env []string
	// User is the config's user, "" for root.
	User string
}

// ImageConfigFunc returns the config of the image ref for platform (a
// FROM --platform value such as "linux/arm64", "" for the default). It
// returns an error when the image cannot be read.
type ImageConfigFunc func(ref, platform string) (*ImageConfig, error)

// WithImageConfig gives Analyze a function that reads base images'
// configs, called at most once per image and platform for the images
// stages start from (other than Docker Hub's golang, whose environment is
// known). The module and build cache directories then come from the
// image's GOPATH, GOMODCACHE, GOCACHE, HOME and user; when an image cannot
// be read, the findings say which directory is assumed. The default is
// none: no image is read.
func WithImageConfig(f ImageConfigFunc) Option {
	return func(o *options) error { o.imageConfig = f; return nil }
}

// WithDisabled turns off rules by ID or slug. The default is all rules on.
func WithDisabled(ids ...string) Option {
	return func(o *options) error {
		for _, id := range ids {
			r := LookupRule(id)
			if r == nil {
				return fmt.Errorf("unknown rule %q", id)
			}
			o.disabled[r.ID] = true
		}
		return nil
	}
}

// WithBuildKit says whether the image is built with BuildKit, which decides
// whether cache mounts can be suggested (rule CC006). The default detects
// it: a "# syntax=" directive, a RUN --mount, a heredoc or COPY --link.
func WithBuildKit(on bool) Option {
	return func(o *options) error { o.buildKit = &on; return nil }
}

// parseOnlyError is the error of Parse given options only Load reads.
func parseOnlyError(names []string) error {
	verb := "apply"
	if len(names) == 1 {
		verb = "applies"
	}
	return fmt.Errorf("analyzer.Parse reads no files: %s %s to Load only; give Parse the Dockerfile's name and text", strings.Join(names, ", "), verb)
}
