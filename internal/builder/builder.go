// Package builder runs real image builds of a Dockerfile with BuildKit
// (buildctl), buildah, podman or docker and reads back which steps the
// builder cached.
package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/analyzer/buildlog"
)

// Builder builds an image from a Dockerfile and a build context.
type Builder interface {
	// Name is "buildkit", "buildah", "podman", "docker" (the classic
	// builder) or "docker-buildkit".
	Name() string
	// Build runs one build. The error is non-nil when the builder could not
	// be run or the build failed; Result is returned whenever the log could
	// be read, so a failed build still names its failing step.
	Build(ctx context.Context, o BuildOptions) (*Result, error)
}

// BuildOptions describes one build.
type BuildOptions struct {
	// Context is the build context directory.
	Context string
	// Dockerfile is the Dockerfile's path; "" means Context/Dockerfile.
	Dockerfile string
	// BuildArgs are passed as --build-arg NAME=VALUE.
	BuildArgs map[string]string
	// Tag names the image: for BuildKit, an image reference the result is
	// pushed to (a registry must be reachable); for buildah and podman, a
	// local tag. "" keeps the result in the builder's cache only.
	Tag string
	// NoCache builds without the layer cache.
	NoCache bool
	// Log receives the builder's raw output as it runs, when not nil.
	Log io.Writer

	env []string // added to the builder's environment
}

// Result is what a build did.
type Result struct {
	// Steps are the Dockerfile steps as the builder reported them.
	Steps []buildlog.Step
	// Duration is the wall-clock time of the build.
	Duration time.Duration
	// Output is the builder's raw output.
	Output []byte
	// Format is the format of Output.
	Format buildlog.Format
}

// BuildKit runs builds through buildctl against a running buildkitd.
type BuildKit struct {
	// Addr is buildkitd's address ("unix:///run/buildkit/buildkitd.sock").
	Addr string
	// Buildctl is the buildctl binary; "" means buildctl on PATH.
	Buildctl string
}

// Name implements Builder.
func (b *BuildKit) Name() string { return "buildkit" }

// Build implements Builder: "buildctl build --frontend dockerfile.v0
// --progress=rawjson", read as buildlog.BuildKitJSON.
func (b *BuildKit) Build(ctx context.Context, o BuildOptions) (*Result, error) {
	dfDir, dfName, err := dockerfile(o)
	if err != nil {
		return nil, err
	}
	args := []string{"--addr", b.Addr, "build", "--progress=rawjson", "--frontend", "dockerfile.v0",
		"--local", "context=" + o.Context, "--local", "dockerfile=" + dfDir, "--opt", "filename=" + dfName}
	for _, k := range sortedKeys(o.BuildArgs) {
		args = append(args, "--opt", "build-arg:"+k+"="+o.BuildArgs[k])
	}
	if o.NoCache {
		args = append(args, "--no-cache")
	}
	if o.Tag != "" {
		args = append(args, "--output", "type=image,name="+o.Tag+",push=true,registry.insecure=true")
	}
	bin := b.Buildctl
	if bin == "" {
		bin = "buildctl"
	}
	return run(ctx, o, buildlog.BuildKitJSON, bin, args...)
}

// Buildah runs "buildah bud --layers" with chroot isolation.
type Buildah struct {
	// Root and RunRoot are buildah's storage directories; "" means
	// buildah's defaults.
	Root, RunRoot string
	// Runtime is the OCI runtime for RUN steps when Isolation is "oci";
	// "" means buildah's default.
	Runtime string
	// Isolation is "chroot" (the default) or "oci".
	Isolation string
}

// Name implements Builder.
func (b *Buildah) Name() string { return "buildah" }

// Build implements Builder: "buildah --storage-driver overlay bud --layers
// --tls-verify=false", read as buildlog.Buildah.
func (b *Buildah) Build(ctx context.Context, o BuildOptions) (*Result, error) {
	args := storageArgs(b.Root, b.RunRoot)
	iso := b.Isolation
	if iso == "" {
		iso = "chroot"
	}
	args = append(args, "bud", "--isolation", iso)
	if b.Runtime != "" {
		args = append(args, "--runtime", b.Runtime)
	}
	return run(ctx, o, buildlog.Buildah, "buildah", append(args, budArgs(o)...)...)
}

// storageArgs are the global options of buildah and podman that choose
// their storage: the overlay driver, in root and runroot when not "".
func storageArgs(root, runRoot string) []string {
	var args []string
	if root != "" {
		args = append(args, "--root", root)
	}
	if runRoot != "" {
		args = append(args, "--runroot", runRoot)
	}
	return append(args, "--storage-driver", "overlay")
}

// budArgs are the arguments of "buildah bud" and "podman build" after the
// subcommand that o sets, the build context last: layer caching on,
// plain-HTTP registries allowed (the base image may come from one).
func budArgs(o BuildOptions) []string {
	df := o.Dockerfile
	if df == "" {
		df = filepath.Join(o.Context, "Dockerfile")
	}
	args := []string{"--layers", "--tls-verify=false", "-f", df}
	for _, k := range sortedKeys(o.BuildArgs) {
		args = append(args, "--build-arg", k+"="+o.BuildArgs[k])
	}
	if o.NoCache {
		args = append(args, "--no-cache")
	}
	if o.Tag != "" {
		args = append(args, "-t", o.Tag)
	}
	return append(args, o.Context)
}

func dockerfile(o BuildOptions) (dir, name string, err error) {
	if o.Context == "" {
		return "", "", fmt.Errorf("build: no context directory")
	}
	if o.Dockerfile == "" {
		return o.Context, "Dockerfile", nil
	}
	abs, err := filepath.Abs(o.Dockerfile)
	if err != nil {
		return "", "", err
	}
	return filepath.Dir(abs), filepath.Base(abs), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// run runs the builder, keeping its output (stdout and stderr together, as
// a user sees it) and reading the steps from it.
func run(ctx context.Context, o BuildOptions, format buildlog.Format, bin string, args ...string) (*Result, error) {
	var out bytes.Buffer
	var w io.Writer = &out
	if o.Log != nil {
		w = io.MultiWriter(&out, o.Log)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(), o.env...)
	start := time.Now()
	runErr := cmd.Run()
	res := &Result{Duration: time.Since(start), Output: out.Bytes(), Format: format}
	steps, readErr := buildlog.Read(bytes.NewReader(res.Output), format)
	res.Steps = steps
	if runErr != nil {
		return res, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), args[indexOf(args, "build", "bud")], runErr, tail(res.Output, 20))
	}
	if readErr != nil {
		return res, fmt.Errorf("reading the output of %s: %w", filepath.Base(bin), readErr)
	}
	return res, nil
}

func indexOf(args []string, words ...string) int {
	for i, a := range args {
		for _, w := range words {
			if a == w {
				return i
			}
		}
	}
	return 0
}

// tail returns the last n lines of out.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Podman runs "podman build --layers" with an OCI runtime (runc by
// default: crun fails on cgroup v1 hosts), cgroupfs and a file for
// podman's events, so that it needs neither systemd nor journald. RUN
// steps share the host's network, as buildah's chroot isolation does, so a
// GOPROXY on the loopback interface is reachable. Its output is buildah's,
// read as buildlog.Buildah.
type Podman struct {
	// Root and RunRoot are podman's storage directories; "" means
	// podman's defaults (which it shares with buildah).
	Root, RunRoot string
	// Runtime is the OCI runtime; "" means /usr/sbin/runc.
	Runtime string
}

// Name implements Builder.
func (b *Podman) Name() string { return "podman" }

// Build implements Builder: "podman --storage-driver overlay --runtime
// RUNTIME --cgroup-manager cgroupfs --events-backend file build --layers
// --tls-verify=false --network host", read as buildlog.Buildah.
func (b *Podman) Build(ctx context.Context, o BuildOptions) (*Result, error) {
	args := append(b.GlobalArgs(), "build", "--network", "host")
	return run(ctx, o, buildlog.Buildah, "podman", append(args, budArgs(o)...)...)
}

// GlobalArgs are the options Build gives podman before its subcommand:
// storage, runtime, cgroup manager and events backend. Other podman
// commands on the same storage (podman info, rmi) need them too.
func (b *Podman) GlobalArgs() []string {
	rt := b.Runtime
	if rt == "" {
		rt = "/usr/sbin/runc"
	}
	return append(storageArgs(b.Root, b.RunRoot), "--runtime", rt, "--cgroup-manager", "cgroupfs", "--events-backend", "file")
}

// Docker runs "docker build" against a docker engine: the classic builder
// (DOCKER_BUILDKIT=0), read as buildlog.Docker, or with BuildKit set the
// engine's own BuildKit (DOCKER_BUILDKIT=1 --progress=plain), read as
// buildlog.BuildKitPlain. The classic builder refuses every RUN flag
// (--mount, --network, --security): see [IsClassic].
type Docker struct {
	// Bin is the docker command; "" means docker on PATH. A docker
	// command newer than the engine may need the buildx plugin for
	// BuildKit builds.
	Bin string
	// Host is the engine's address, passed as DOCKER_HOST
	// ("unix:///run/docker.sock"); "" leaves the environment's.
	Host string
	// BuildKit builds with the engine's BuildKit instead of the classic
	// builder.
	BuildKit bool
	// Network is the network of RUN steps ("host"), passed as --network;
	// "" means the engine's default. The engine's BuildKit needs a
	// usable network even for steps that use none.
	Network string
}

// Name implements Builder: "docker" for the classic builder,
// "docker-buildkit" with BuildKit.
func (b *Docker) Name() string {
	if b.BuildKit {
		return "docker-buildkit"
	}
	return "docker"
}

// Build implements Builder: "docker build", with DOCKER_BUILDKIT=0, or
// DOCKER_BUILDKIT=1 and --progress=plain.
func (b *Docker) Build(ctx context.Context, o BuildOptions) (*Result, error) {
	if o.Context == "" {
		return nil, fmt.Errorf("build: no context directory")
	}
	df := o.Dockerfile
	if df == "" {
		df = filepath.Join(o.Context, "Dockerfile")
	}
	args := []string{"build", "-f", df}
	format, kit := buildlog.Docker, "0"
	if b.BuildKit {
		args = append(args, "--progress=plain")
		format, kit = buildlog.BuildKitPlain, "1"
	}
	o.env = append(o.env, "DOCKER_BUILDKIT="+kit)
	if b.Network != "" {
		args = append(args, "--network", b.Network)
	}
	for _, k := range sortedKeys(o.BuildArgs) {
		args = append(args, "--build-arg", k+"="+o.BuildArgs[k])
	}
	if o.NoCache {
		args = append(args, "--no-cache")
	}
	if o.Tag != "" {
		args = append(args, "-t", o.Tag)
	}
	args = append(args, o.Context)
	if b.Host != "" {
		o.env = append(o.env, "DOCKER_HOST="+b.Host)
	}
	bin := b.Bin
	if bin == "" {
		bin = "docker"
	}
	return run(ctx, o, format, bin, args...)
}

// IsClassic reports whether b is the classic docker builder, which
// refuses every RUN flag (--mount, --network, --security: "the --mount
// option requires BuildKit"), so that a Dockerfile for it has none, and
// caches every instruction (analyzer.WithClassicDockerBuilder).
func IsClassic(b Builder) bool {
	d, ok := b.(*Docker)
	return ok && !d.BuildKit
}
