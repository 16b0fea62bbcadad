package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Report is what `cachecheck report` says about a pull request: what the
// change does to the dependency key, whether a deps image serves it, what it
// does to the Dockerfile's findings and layer cache, and how long builds
// took. It is plain data: the command fills it, the renderers print it, and
// its JSON form (with ProtocolVersion) can be read back and rendered again.
type Report struct {
	Header
	Base       string      `json:"base"` // the base revision, as given
	Head       string      `json:"head"` // the head revision, or "." for the work tree
	Keys       Keys        `json:"keys"`
	Deps       Deps        `json:"deps_image"`
	Dockerfile *Dockerfile `json:"dockerfile,omitempty"`
	// DockerfileNote says why no Dockerfile was analysed (Dockerfile is
	// nil): none found, or several that build Go and no --file.
	DockerfileNote string   `json:"dockerfile_note,omitempty"`
	Timings        []Timing `json:"timings,omitempty"`
	Bench          *Bench   `json:"bench,omitempty"`
}

// Keys compares the dependency keys of base and head.
type Keys struct {
	Base    string   `json:"base"`
	Head    string   `json:"head"`
	Same    bool     `json:"same"`
	Changes []string `json:"changes"` // as cachekey.Diff explains them
}

// Deps says whether a deps image for the head key is published.
type Deps struct {
	// Checked is false when no target was given or it could not be
	// reached; Note says which.
	Checked bool   `json:"checked"`
	Note    string `json:"note,omitempty"`
	Target  string `json:"target,omitempty"`
	Hit     bool   `json:"hit"`
	Ref     string `json:"ref,omitempty"` // the image for the head key, on a hit
	// Base is the digest of the base image the image found was warmed
	// on, when it was found on a base without --deps-base naming one;
	// OtherBases counts the other bases that hold the key's image.
	Base       string        `json:"base,omitempty"`
	OtherBases int           `json:"other_bases,omitempty"`
	Nearest    *NearestImage `json:"nearest,omitempty"`
	// BuildCache is the Go build cache of the image found (Ref, or else
	// Nearest); nil when it has none.
	BuildCache *BuildCache `json:"build_cache,omitempty"`
	// Hidden are the positions ("Dockerfile:12") of the head Dockerfile's
	// RUN instructions, in stages that start from the deps image, whose
	// cache mount on the module cache hides the image's modules (rule
	// CC011): there the image is of no use.
	Hidden []string `json:"module_cache_hidden,omitempty"`
}

// BuildCache is the Go build cache (GOCACHE) a deps image holds, as its
// labels record it, and how the head Dockerfile's go builds compare with
// the settings it was compiled for.
type BuildCache struct {
	// Settings are the build settings it was compiled for, as a go
	// command line: "go1.26.8 GOOS=linux GOARCH=amd64 ... -trimpath".
	Settings string `json:"settings"`
	Packages int    `json:"packages"` // compiled packages it holds
	// Platforms are the build caches of each platform's image of a
	// multi-platform deps image (Settings and Packages are the first's);
	// none for a single image.
	Platforms []PlatformBuildCache `json:"platforms,omitempty"`
	// MainModule is the main module's layer of warm --build-cache=all
	// (of the first image, for an index): the module's packages compiled
	// at a commit; nil when the image holds only the dependencies.
	MainModule *RefMainModule `json:"main_module,omitempty"`
	// Builds are the go builds of the head Dockerfile; none when there is
	// no Dockerfile or it builds nothing.
	Builds []GoBuild `json:"builds"`
	// Mismatch is true when some go build cannot use the cache.
	Mismatch bool `json:"mismatch"`
}

// PredictedCompile is what a go build FROM the deps image compiles: the
// main module's packages it builds, which the build cache does not hold,
// and a link for each command.
type PredictedCompile struct {
	Packages []string `json:"packages"` // import paths, sorted: what go build -v lists
	Links    int      `json:"links"`
	// Revision is the commit whose main module packages the image holds
	// (warm --build-cache=all), from which the head's changes are
	// counted; "" when it holds only the dependencies.
	Revision string `json:"revision,omitempty"`
	// Note says why nothing was predicted (Packages empty).
	Note string `json:"note,omitempty"`
}

// Sentence says what the build compiles: "FROM the image it compiles 2
// packages of the module (example.com/app/cmd/api,
// example.com/app/internal/greet) and links 1 command".
func (c *PredictedCompile) Sentence() string {
	if c.Note != "" {
		return "what it compiles was not predicted: " + c.Note
	}
	names := c.Packages
	more := ""
	if len(names) > 8 {
		names, more = names[:8], fmt.Sprintf(", and %d more", len(c.Packages)-8)
	}
	s := fmt.Sprintf("FROM the image it compiles %d %s of the module (%s%s)", len(c.Packages), plural(len(c.Packages), "package", "packages"), strings.Join(names, ", "), more)
	if c.Links > 0 {
		s += fmt.Sprintf(" and links %d %s", c.Links, plural(c.Links, "command", "commands"))
	}
	if c.Revision != "" {
		s += fmt.Sprintf(", the image holding the module's packages compiled at %s", shortRevision(c.Revision))
	}
	return s
}

// PlatformBuildCache is the build cache of one platform's image of a
// multi-platform deps image.
type PlatformBuildCache struct {
	Platform string `json:"platform"` // "linux/arm64"
	Settings string `json:"settings"` // as BuildCache.Settings
	Packages int    `json:"packages"`
}

// GoBuild is one go build (or go install) of the head Dockerfile.
type GoBuild struct {
	Position string `json:"position"` // "Dockerfile:12"
	Command  string `json:"command"`  // "build" or "install"
	Settings string `json:"settings"` // as BuildCache.Settings
	// Platform is the platform of the image of a multi-platform deps image
	// it is compared with: that of its GOOS/GOARCH, else the first; ""
	// for a single image.
	Platform string `json:"platform,omitempty"`
	// Compiles is what it compiles FROM the deps image, as predicted for a
	// build that matches the cache in the work tree; nil otherwise.
	Compiles *PredictedCompile `json:"compiles,omitempty"`
	// Mismatches are the settings in which it differs from the cache's;
	// none when it can use the cache.
	Mismatches []SettingMismatch `json:"mismatches,omitempty"`
}

// SettingMismatch is one build setting in which a go build differs from
// the build cache, each side as words of a go command line: "go1.25",
// "no -trimpath", "-tags=netgo", "no build tags".
type SettingMismatch struct {
	Setting string `json:"setting"`
	Build   string `json:"build"`
	Cache   string `json:"cache"`
}

// Sentence says plainly why the build cannot use the cache, or "" when it
// can: "the Dockerfile's go build (Dockerfile:12) uses go1.25 and no
// -trimpath, the deps image's build cache was compiled with go1.26.8 and
// -trimpath: every dependency will be compiled again".
func (b GoBuild) Sentence() string {
	if len(b.Mismatches) == 0 {
		return ""
	}
	var build, cache []string
	for _, m := range b.Mismatches {
		build, cache = append(build, m.Build), append(cache, m.Cache)
	}
	return fmt.Sprintf("the Dockerfile's go %s (%s) uses %s, the deps image's build cache was compiled with %s: every dependency will be compiled again",
		b.Command, b.Position, andList(build), andList(cache))
}

// andList joins words as "a", "a and b", "a, b and c".
func andList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// NearestImage is the published deps image sharing the most modules with
// the head's, on a miss.
type NearestImage struct {
	Ref    string `json:"ref"`
	Shared int    `json:"shared_modules"` // modules of head it holds
	Total  int    `json:"total_modules"`  // modules of head
}

// Dockerfile compares the Dockerfile's findings between base and head and
// predicts the layer cache of a head build after a base build.
type Dockerfile struct {
	File       string     `json:"file"`
	Introduced []*Finding `json:"introduced"` // in head, not in base
	Fixed      []*Finding `json:"fixed"`      // in base, not in head
	Remaining  int        `json:"remaining"`  // in both
	// Prediction is the layer cache of a head build after a base build;
	// nil when the base has no Dockerfile.
	Prediction *Prediction `json:"prediction,omitempty"`
}

// firstMiss is "Dockerfile:3 COPY go.mod go.sum ./ misses: go.sum
// changed", or "" when every layer is reused or nothing was predicted.
func (d *Dockerfile) firstMiss() string {
	if d.Prediction == nil || d.Prediction.FirstMiss == nil {
		return ""
	}
	fm := d.Prediction.FirstMiss
	return fmt.Sprintf("%s:%d %s", d.File, fm.Line, fm.Reason)
}

// downloadReused says whether the module download layer is reused; nil
// when there is no prediction or no download step.
func (d *Dockerfile) downloadReused() *bool {
	if d.Prediction == nil {
		return nil
	}
	return d.Prediction.ModuleDownloadReused
}

// Timing is one build, read from its log.
type Timing struct {
	Name    string  `json:"name"`    // "base", "head" or the log's file name
	Builder string  `json:"builder"` // buildkit, buildah, docker
	Seconds float64 `json:"seconds"` // wall time from the first step's start to the last one's end
	// Timed is false when the log holds no times (buildah's does not):
	// Seconds and the steps' Seconds are then unknown, not zero.
	Timed bool   `json:"timed"`
	Steps []Step `json:"steps"`
}

// Step is one build step of a log.
type Step struct {
	Name    string  `json:"name"`
	Stage   string  `json:"stage,omitempty"`
	Cached  bool    `json:"cached"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// Bench holds the scenarios of a `cachecheck bench` run.
type Bench struct {
	Builder   string     `json:"builder"`
	Scenarios []Scenario `json:"scenarios"`
	// Speedup is the median without pre-warming over the median with it;
	// 0 when either is missing or invalid.
	Speedup float64 `json:"speedup"`
}

// Scenario is one bench scenario's timings over its runs.
type Scenario struct {
	Name   string  `json:"name"`
	Runs   int     `json:"runs"`
	Median float64 `json:"median_seconds"`
	Min    float64 `json:"min_seconds"`
	Max    float64 `json:"max_seconds"`
	// Invalid says why the scenario does not measure what it is meant
	// to (as BenchScenario.Invalid); "" when it does.
	Invalid string `json:"invalid,omitempty"`
}

// ReadReport reads a Report written by WriteJSON.
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("reading report: %w", err)
	}
	if rep.ProtocolVersion != ProtocolVersion || rep.DocKind != "" && rep.DocKind != rep.Kind() {
		return nil, fmt.Errorf("reading report: protocol_version %d, want %d", rep.ProtocolVersion, ProtocolVersion)
	}
	return &rep, nil
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	if r.Keys.Changes == nil {
		r.Keys.Changes = []string{}
	}
	if d := r.Dockerfile; d != nil {
		if d.Introduced == nil {
			d.Introduced = []*Finding{}
		}
		if d.Fixed == nil {
			d.Fixed = []*Finding{}
		}
	}
	return writeJSON(w, r)
}

// Kind is "report".
func (*Report) Kind() string { return "report" }

// Condition is a --fail-on condition of a report.
type Condition struct {
	Kind string // "new-finding", "deps-miss", "key-changed", "build-cache-mismatch", "slower-than"
	// Severity is the least severity of a new finding that fails.
	Severity Severity
	// Percent is how much slower head may be than base before it fails.
	Percent float64
}

// ParseCondition parses "new-finding=SEVERITY", "deps-miss", "key-changed",
// "build-cache-mismatch" or "slower-than=N%".
func ParseCondition(s string) (Condition, error) {
	kind, arg, hasArg := strings.Cut(s, "=")
	c := Condition{Kind: kind}
	switch kind {
	case "new-finding":
		c.Severity = Warning
		if hasArg {
			sev, err := ParseSeverity(arg)
			if err != nil || sev == 0 {
				return c, fmt.Errorf("--fail-on %s: want new-finding=error, warning or info", s)
			}
			c.Severity = sev
		}
	case "deps-miss", "key-changed", "build-cache-mismatch":
		if hasArg {
			return c, fmt.Errorf("--fail-on %s: %s takes no value", s, kind)
		}
	case "slower-than":
		p, err := strconv.ParseFloat(strings.TrimSuffix(arg, "%"), 64)
		if !hasArg || !strings.HasSuffix(arg, "%") || err != nil || p < 0 {
			return c, fmt.Errorf("--fail-on %s: want slower-than=N%%, such as slower-than=20%%", s)
		}
		c.Percent = p
	default:
		return c, fmt.Errorf("--fail-on %q: want new-finding=SEVERITY, deps-miss, key-changed, build-cache-mismatch or slower-than=N%%", s)
	}
	return c, nil
}

// String returns the condition as ParseCondition reads it.
func (c Condition) String() string {
	switch c.Kind {
	case "new-finding":
		return "new-finding=" + c.Severity.String()
	case "slower-than":
		return fmt.Sprintf("slower-than=%g%%", c.Percent)
	}
	return c.Kind
}

// Failures returns, for each condition the report meets, a sentence saying
// why; none when the report passes.
func (r *Report) Failures(conds []Condition) []string {
	var out []string
	for _, c := range conds {
		switch c.Kind {
		case "new-finding":
			if r.Dockerfile == nil {
				continue
			}
			n := 0
			for _, f := range r.Dockerfile.Introduced {
				if f.Severity >= c.Severity {
					n++
				}
			}
			if n > 0 {
				out = append(out, fmt.Sprintf("%s: %d new Dockerfile %s", c, n, plural(n, "finding", "findings")))
			}
		case "deps-miss":
			switch {
			case r.Deps.Checked && !r.Deps.Hit:
				out = append(out, fmt.Sprintf("%s: no deps image for key %s", c, r.Keys.Head))
			case len(r.Deps.Hidden) > 0:
				out = append(out, fmt.Sprintf("%s: a cache mount at %s hides the deps image's modules", c, andList(r.Deps.Hidden)))
			}
		case "build-cache-mismatch":
			if bc := r.Deps.BuildCache; bc != nil && bc.Mismatch {
				var at []string
				for _, b := range bc.Builds {
					if len(b.Mismatches) > 0 {
						at = append(at, b.Position)
					}
				}
				out = append(out, fmt.Sprintf("%s: the go build at %s does not match the deps image's build cache", c, andList(at)))
			}
		case "key-changed":
			if !r.Keys.Same {
				out = append(out, fmt.Sprintf("%s: key %s -> %s", c, r.Keys.Base, r.Keys.Head))
			}
		case "slower-than":
			base, head, ok := r.baseHeadSeconds()
			if ok && head > base*(1+c.Percent/100) {
				out = append(out, fmt.Sprintf("%s: head build %.1fs is %.0f%% slower than base %.1fs", c, head, 100*(head-base)/base, base))
			}
		}
	}
	return out
}

// baseHeadSeconds returns the times of the builds named base and head.
func (r *Report) baseHeadSeconds() (base, head float64, ok bool) {
	var haveBase, haveHead bool
	for _, t := range r.Timings {
		if !t.Timed {
			continue
		}
		switch t.Name {
		case "base":
			base, haveBase = t.Seconds, true
		case "head":
			head, haveHead = t.Seconds, true
		}
	}
	return base, head, haveBase && haveHead && base > 0
}

// Verdict is the report in one line: what the change does to the cache.
func (r *Report) Verdict() string {
	var parts []string
	if r.Keys.Same {
		parts = append(parts, "dependencies unchanged")
	} else {
		parts = append(parts, fmt.Sprintf("dependency key changed (%d %s)", len(r.Keys.Changes), plural(len(r.Keys.Changes), "change", "changes")))
	}
	switch {
	case !r.Deps.Checked:
		parts = append(parts, "deps image not checked")
	case r.Deps.Hit && len(r.Deps.Hidden) > 0:
		parts = append(parts, fmt.Sprintf("deps image published but hidden by a cache mount at %s", andList(r.Deps.Hidden)))
	case r.Deps.Hit:
		parts = append(parts, "deps image ready")
	case r.Deps.Nearest != nil:
		parts = append(parts, fmt.Sprintf("deps image missing (nearest holds %d of %d modules)", r.Deps.Nearest.Shared, r.Deps.Nearest.Total))
	default:
		parts = append(parts, "deps image missing")
	}
	if bc := r.Deps.BuildCache; bc != nil {
		switch {
		case bc.Mismatch:
			parts = append(parts, "its build cache does not match the go build")
		case len(bc.Builds) > 0:
			parts = append(parts, "its build cache matches the go build")
		}
	}
	if d := r.Dockerfile; d != nil {
		switch n := len(d.Introduced); {
		case n > 0:
			parts = append(parts, fmt.Sprintf("%d new Dockerfile %s", n, plural(n, "finding", "findings")))
		case len(d.Fixed) > 0:
			parts = append(parts, fmt.Sprintf("%d Dockerfile %s fixed", len(d.Fixed), plural(len(d.Fixed), "finding", "findings")))
		default:
			parts = append(parts, "no new Dockerfile findings")
		}
		if reused := d.downloadReused(); reused != nil {
			if *reused {
				parts = append(parts, "module download layer reused")
			} else {
				parts = append(parts, "module download layer rebuilt")
			}
		}
	}
	return strings.Join(parts, " · ")
}

// ok reports whether the report has nothing to warn about.
func (r *Report) ok() bool {
	if r.Deps.Checked && !r.Deps.Hit || len(r.Deps.Hidden) > 0 {
		return false
	}
	if bc := r.Deps.BuildCache; bc != nil && bc.Mismatch {
		return false
	}
	if d := r.Dockerfile; d != nil {
		if reused := d.downloadReused(); len(d.Introduced) > 0 || (reused != nil && !*reused) {
			return false
		}
	}
	return true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
