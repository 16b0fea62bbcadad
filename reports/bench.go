package reports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// BenchRun is what `cachecheck bench` measured: each scenario's builds,
// their median, min and max, and the speedups. internal/bench fills it;
// its JSON form is the document of "cachecheck bench --format json", which
// `cachecheck report --bench` reads.
type BenchRun struct {
	Header
	Builder    string `json:"builder"`
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile,omitempty"`
	// DepsImage is the deps image the pre-warmed scenario built from.
	DepsImage string          `json:"deps_image,omitempty"`
	Bump      string          `json:"bump,omitempty"`
	Runs      int             `json:"runs"`
	Scenarios []BenchScenario `json:"scenarios"`
	// Speedup is the median of the cold scenario over the median of the
	// pre-warmed one; 0 when either is missing or invalid.
	Speedup float64 `json:"speedup"`
	// BuildCacheSpeedup is the median of the cold scenario over the median
	// of the one with the build cache (buildcache, or go-buildcache for
	// the go builder); 0 when either is missing, skipped or invalid.
	BuildCacheSpeedup float64 `json:"buildcache_speedup,omitempty"`
}

// The names of the scenarios a bench runs, stable in the JSON document;
// internal/bench says what each one builds.
const (
	ScenarioCold         = "cold"
	ScenarioPrewarmed    = "prewarmed"
	ScenarioBuildCache   = "buildcache"
	ScenarioCodeChange   = "code-change"
	ScenarioBumpCold     = "bump-cold"
	ScenarioBumpNearest  = "bump-nearest"
	ScenarioBumpFresh    = "bump-fresh"
	ScenarioGoCold       = "go-cold"
	ScenarioGoPrewarmed  = "go-prewarmed"
	ScenarioGoBuildCache = "go-buildcache"
)

// BenchScenario is one scenario's runs and their median, min and max.
type BenchScenario struct {
	Name   string       `json:"name"`
	Title  string       `json:"title"`
	Median float64      `json:"median_seconds"`
	Min    float64      `json:"min_seconds"`
	Max    float64      `json:"max_seconds"`
	Runs   []BenchBuild `json:"runs"`
	// Image is the deps image the scenario built from, if any.
	Image string `json:"image,omitempty"`
	// Changed is the Go file the code-change scenario edits, relative to
	// the context.
	Changed string `json:"changed,omitempty"`
	// Skipped says why the scenario did not run (it has no runs then):
	// "the deps image cannot hold a build cache for this build: ...".
	Skipped string `json:"skipped,omitempty"`
	// Note says how the scenario's Dockerfile differs from the user's
	// beyond its FROM: GOPROXY=off, cache mounts taken off.
	Note string `json:"note,omitempty"`
	// DroppedMounts are the cache mounts taken off the scenario's
	// Dockerfile because they hide a directory the deps image provides:
	// "Dockerfile:12 (/go/pkg/mod): hides the deps image's module cache".
	DroppedMounts []string `json:"dropped_mounts,omitempty"`
	// Invalid says why the scenario's timings do not measure what it is
	// meant to, "" when they do: a pre-warmed build that downloaded
	// modules, or failed because it needed to. An invalid scenario gives
	// no speedup.
	Invalid string `json:"invalid,omitempty"`
}

// BenchBuild is one build of a scenario.
type BenchBuild struct {
	Seconds float64 `json:"seconds"`
	// Log is the file the builder's output was saved to, with --logs.
	Log   string      `json:"log,omitempty"`
	Steps []BenchStep `json:"steps,omitempty"`
	// CompiledPackages is how many packages the go build steps compiled,
	// when the builder's output shows it (go build -v); nil otherwise.
	CompiledPackages *int `json:"compiled_packages,omitempty"`
	// Compiled lists those packages, in the buildcache scenario only: the
	// module's own, when the build cache served every dependency.
	Compiled []string `json:"compiled,omitempty"`
	// ModulesDownloaded is how many modules the build's go commands
	// downloaded, as their output in the log shows it ("go mod download
	// -x" fetching a zip, "go: downloading" from the others); nil when the
	// log cannot tell.
	ModulesDownloaded *int `json:"modules_downloaded,omitempty"`
	// Downloaded lists those modules (MODULE@VERSION) in a scenario
	// FROM a deps image; empty elsewhere.
	Downloaded []string `json:"downloaded,omitempty"`
}

// BenchStep is one Dockerfile step of a build, as the builder reported it.
type BenchStep struct {
	Stage       string  `json:"stage"`
	Instruction string  `json:"instruction"`
	Cached      bool    `json:"cached"`
	Seconds     float64 `json:"seconds"`
	Error       string  `json:"error,omitempty"`
}

// Kind is "bench".
func (*BenchRun) Kind() string { return "bench" }

// Scenario returns the scenario named name, or nil.
func (r *BenchRun) Scenario(name string) *BenchScenario {
	for i := range r.Scenarios {
		if r.Scenarios[i].Name == name {
			return &r.Scenarios[i]
		}
	}
	return nil
}

// Summary condenses the run into what a pull-request report shows: the
// scenarios that ran, by title, and why one is invalid.
func (r *BenchRun) Summary() *Bench {
	b := &Bench{Builder: r.Builder, Speedup: r.Speedup}
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			continue
		}
		b.Scenarios = append(b.Scenarios, Scenario{Name: s.Title, Runs: len(s.Runs), Median: s.Median, Min: s.Min, Max: s.Max, Invalid: s.Invalid})
	}
	return b
}

// ReadBench reads the JSON of a bench run, as `cachecheck bench --format
// json` writes it: a document of kind "bench", read by [Read], or one
// without a "kind", as cachecheck wrote them before documents had one.
func ReadBench(r io.Reader) (*BenchRun, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading bench JSON: %w", err)
	}
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("reading bench JSON: %w", err)
	}
	switch h.DocKind {
	case "":
		if h.ProtocolVersion != ProtocolVersion {
			return nil, fmt.Errorf("reading bench JSON: protocol_version %d, want %d", h.ProtocolVersion, ProtocolVersion)
		}
		var b BenchRun
		if err := json.Unmarshal(data, &b); err != nil {
			return nil, fmt.Errorf("reading bench JSON: %w", err)
		}
		if b.Builder == "" {
			return nil, errors.New(`reading bench JSON: it has no "builder": not the output of cachecheck bench --format json`)
		}
		return &b, nil
	case (*BenchRun)(nil).Kind():
		d, err := Read(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return d.(*BenchRun), nil
	}
	return nil, fmt.Errorf("reading bench JSON: it is a %q document, not a bench run: write one with cachecheck bench --format json", h.DocKind)
}
