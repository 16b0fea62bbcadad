package analyzer

import (
	"strings"

	"github.com/cachecheck/cachecheck/reports"
)

// Finding is one problem the analyzer found.
type Finding = reports.Finding

// Rule describes one check, with a stable ID.
type Rule = reports.Rule

// The rules, by ID. IDs and slugs are stable: they are used by --disable,
// "# cachecheck:ignore" comments and code-scanning alerts.
var (
	ruleSourceBeforeDownload = &Rule{ID: "CC001", Slug: "source-before-download", Severity: reports.Warning,
		Summary: "source code is copied before the module download",
		Help:    "Every change to any copied file invalidates the download layer, so every code change downloads all modules again. Copy go.mod and go.sum alone, run go mod download, then copy the rest."}
	ruleSumMissing = &Rule{ID: "CC002", Slug: "go-sum-not-copied", Severity: reports.Warning,
		Summary: "go.mod is copied without go.sum (or go.work without go.work.sum) before the download",
		Help:    "Without go.sum the download cannot be verified against the checksums the repository pins and go may need to contact the checksum database; copy both files together."}
	ruleNoDownloadStep = &Rule{ID: "CC003", Slug: "no-download-step", Severity: reports.Warning,
		Summary: "no separate module download step: modules are fetched inside go build",
		Help:    "When go build runs after the whole source is copied, every code change downloads all modules again. Add COPY go.mod go.sum ./ and RUN go mod download before copying the source."}
	ruleLocalReplace = &Rule{ID: "CC004", Slug: "local-replace-missing", Severity: reports.Error,
		Summary: "a local replace or go.work use directory is not in the image at the download step, or lies outside the build context",
		Help:    "go mod download reads the go.mod of every local replacement and workspace module. If the directory is copied only later, a cold build fails while a warm cache hides it; a directory outside the build context can never be copied."}
	ruleVendorMismatch = &Rule{ID: "CC005", Slug: "vendor-mismatch", Severity: reports.Warning,
		Summary: "vendor/ is used but the Dockerfile still downloads modules, -mod=vendor is set without vendor/ in the context, or go mod vendor runs before the source is copied",
		Help:    "With vendor/modules.txt present (go 1.14 or later) go builds from vendor/ and go mod download is wasted work and network; with -mod=vendor but no vendor/ in the context the build fails. go mod vendor vendors the packages the code imports: run on go.mod and go.sum alone it vendors none, and go build then fails on every package of a requirement."}
	ruleNoCacheMount = &Rule{ID: "CC006", Slug: "no-cache-mount", Severity: reports.Info,
		Summary: "module download or build without a BuildKit cache mount",
		Help:    "A cache mount keeps the module and build caches across builds even when the layer is rebuilt; its target must be the stage's GOMODCACHE and GOCACHE."}
	ruleCredential = &Rule{ID: "CC007", Slug: "credential-in-image", Severity: reports.Error,
		Summary: "a credential passed by ARG or ENV, or a .netrc written by RUN",
		Help:    "Build arguments, environment variables and files written by RUN stay in the image history and the build cache. Pass credentials with RUN --mount=type=secret."}
	ruleCgoStatic = &Rule{ID: "CC008", Slug: "cgo-on-static-base", Severity: reports.Error,
		Summary: "the final stage is scratch or distroless/static but the Go build does not disable cgo",
		Help:    "With cgo enabled (the default where a C compiler is installed) a binary using net or os/user links the C library dynamically and does not start on an image without one. Build with CGO_ENABLED=0."}
	ruleDockerignore = &Rule{ID: "CC009", Slug: "copy-all-without-dockerignore", Severity: reports.Warning,
		Summary: "a COPY sends a .git directory into the image: no .dockerignore, or one that does not exclude it",
		Help:    "Without a .dockerignore excluding .git (the context's, or a subdirectory's checkout), every commit changes the copied files and busts the cache of this layer and everything after it. When the build reads .git (git describe, -buildvcs=true), keep it out of the module download layer instead."}
	ruleToolchain = &Rule{ID: "CC010", Slug: "toolchain-newer-than-image", Severity: reports.Warning,
		Summary: "the go or toolchain directive is newer than the builder image's Go and GOTOOLCHAIN is unset",
		Help:    "From Go 1.21 the go command then downloads a newer toolchain at build time, on every cold build. An older go command downloads nothing: a go line it cannot parse (a patch level such as 1.21.5) or a toolchain line fails the build at once, and a newer major.minor go line is advisory, so the build fails only where the code needs the newer Go. Use a builder image with that Go version."}
	ruleDepsImage = &Rule{ID: "CC011", Slug: "use-deps-image", Severity: reports.Info,
		Summary: "a builder stage could start FROM the published dependency image, or one that does hides its modules under a cache mount",
		Help:    "Starting the builder stage from the image that already holds the module cache skips the download on every cold builder. In a stage that starts from it, a cache mount on GOMODCACHE, GOPATH or a parent hides those modules (error): the go command downloads them all again, or fails offline; mount only GOCACHE there."}
	ruleBuildCacheMismatch = &Rule{ID: "CC012", Slug: "build-cache-mismatch", Severity: reports.Warning,
		Summary: "a go build does not match the settings the deps image's build cache was compiled with, or a cache mount hides that cache",
		Help:    "Compiled packages are reused only when the Go release, GOOS/GOARCH/GOAMD64, CGO_ENABLED, -trimpath, build tags, compile flags and (without -trimpath) the module cache path are all the same; otherwise go build silently compiles every dependency again. A cache mount on GOCACHE starts from its own contents, not the image's."}
	ruleOpaqueBuild = &Rule{ID: "CC013", Slug: "opaque-build-step", Severity: reports.Info,
		Summary: "a step after the source is copied runs make or a script that cannot be read, with no module download before it",
		Help:    "cachecheck follows make and shell scripts from the build context to the go commands they run. A step it cannot read (a Makefile or script that is not in the build context, a binary, a remote script, an unknown target) may download modules after the whole source is copied, so on every code change. Copy go.mod and go.sum and run go mod download before copying the source."}
)

// Rules lists every rule in ID order.
var Rules = []*Rule{
	ruleSourceBeforeDownload, ruleSumMissing, ruleNoDownloadStep, ruleLocalReplace, ruleVendorMismatch,
	ruleNoCacheMount, ruleCredential, ruleCgoStatic, ruleDockerignore, ruleToolchain, ruleDepsImage,
	ruleBuildCacheMismatch, ruleOpaqueBuild,
}

// LookupRule returns the rule with the given ID or slug (case-insensitive),
// or nil.
func LookupRule(id string) *Rule {
	for _, r := range Rules {
		if strings.EqualFold(r.ID, id) || strings.EqualFold(r.Slug, id) {
			return r
		}
	}
	return nil
}
