package reports

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleReport() *Report {
	no := false
	return &Report{
		Base: "main",
		Head: ".",
		Keys: Keys{
			Base:    "ck1-a177fd07cccf185bab05061bbd1ec631",
			Head:    "ck1-18ed5acb9b8038b9617fc243801bee03",
			Changes: []string{"go 1.22 -> 1.23", "golang.org/x/text v0.14.0 -> v0.15.0", "go.sum: +2 -2 entries"},
		},
		Deps: Deps{
			Checked: true,
			Target:  "127.0.0.1:5000/app-deps",
			Nearest: &NearestImage{Ref: "127.0.0.1:5000/app-deps:ck1-a177fd07cccf185bab05061bbd1ec631-bc0123456789ab", Shared: 41, Total: 43},
			BuildCache: &BuildCache{
				Settings: "go1.26.8 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath",
				Packages: 57,
				Builds: []GoBuild{
					{Position: "Dockerfile:6", Command: "build",
						Settings:   "go1.25 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build",
						Mismatches: []SettingMismatch{{Setting: "Go version", Build: "go1.25", Cache: "go1.26.8"}, {Setting: "-trimpath", Build: "no -trimpath", Cache: "-trimpath"}}},
					{Position: "Dockerfile:8", Command: "install",
						Settings: "go1.26 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath"},
				},
				Mismatch: true,
			},
		},
		Dockerfile: &Dockerfile{
			File: "Dockerfile",
			Introduced: []*Finding{{Rule: "CC001", Slug: "source-before-download", Severity: Warning, File: "Dockerfile", Line: 4,
				Message: `"COPY . ." copies the source before "go mod download"`, Fix: "COPY go.mod go.sum ./ first | then download"}},
			Remaining: 1,
			Prediction: &Prediction{
				Base: "main", Head: "work tree", ModuleDownloadReused: &no,
				Stages: []PredictedStage{{Stage: "build", Line: 1, Steps: []PredictedStep{
					{Index: 1, Kind: "FROM", Line: 1, Text: "FROM golang:1.23 AS build", Cache: "HIT"},
					{Index: 2, Kind: "COPY", Line: 3, Text: "COPY go.mod go.sum ./", Cache: "MISS", Reason: "go.mod, go.sum changed", Changed: []string{"go.mod", "go.sum"}, ChangedCount: 2},
					{Index: 3, Kind: "RUN", Line: 4, Text: "RUN   go mod download", Cache: "MISS", Reason: "an earlier step missed", ModuleDownload: true},
				}}},
				FirstMiss: &StepRef{Stage: "build", Line: 3, Reason: "COPY go.mod go.sum ./ misses: go.mod, go.sum changed"},
			},
		},
		Timings: []Timing{
			{Name: "base", Builder: "buildkit", Seconds: 40, Timed: true, Steps: []Step{{Name: "RUN go mod download", Stage: "build", Seconds: 30}, {Name: "RUN go build", Stage: "build", Seconds: 10}}},
			{Name: "head", Builder: "buildkit", Seconds: 52, Timed: true, Steps: []Step{{Name: "RUN go mod download", Stage: "build", Cached: true}, {Name: "RUN go build", Stage: "build", Seconds: 52}}},
		},
		Bench: &Bench{Builder: "go", Speedup: 4, Scenarios: []Scenario{
			{Name: "without deps image", Runs: 3, Median: 20, Min: 19, Max: 22},
			{Name: "with deps image", Runs: 3, Median: 5, Min: 4.5, Max: 6},
		}},
	}
}

func TestReportGolden(t *testing.T) {
	for _, format := range []string{"markdown", "text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			r := sampleReport()
			var err error
			switch format {
			case "markdown":
				err = r.WriteMarkdown(&buf)
			case "text":
				err = r.WriteText(&buf)
			case "json":
				err = r.WriteJSON(&buf)
			}
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "report."+format+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s output differs from %s (run with -update to accept):\n%s", format, golden, buf.String())
			}
		})
	}
}

// TestReportReplay checks that the JSON form reads back into the same
// report: rendering the read one gives the same markdown.
func TestReportReplay(t *testing.T) {
	var js, md1, md2 bytes.Buffer
	r := sampleReport()
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r.WriteMarkdown(&md1)
	back.WriteMarkdown(&md2)
	if md1.String() != md2.String() {
		t.Fatalf("replayed markdown differs:\n%s\nwant:\n%s", md2.String(), md1.String())
	}
	if _, err := ReadReport(strings.NewReader(`{"protocol_version": 99}`)); err == nil {
		t.Fatal("ReadReport accepted protocol_version 99")
	}
}

func TestConditions(t *testing.T) {
	r := sampleReport()
	var conds []Condition
	for _, s := range []string{"new-finding=warning", "new-finding=error", "deps-miss", "key-changed", "build-cache-mismatch", "slower-than=20%", "slower-than=50%"} {
		c, err := ParseCondition(s)
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != s {
			t.Errorf("ParseCondition(%q).String() = %q", s, c.String())
		}
		conds = append(conds, c)
	}
	got := r.Failures(conds)
	want := []string{
		"new-finding=warning: 1 new Dockerfile finding",
		"deps-miss: no deps image for key ck1-18ed5acb9b8038b9617fc243801bee03",
		"key-changed: key ck1-a177fd07cccf185bab05061bbd1ec631 -> ck1-18ed5acb9b8038b9617fc243801bee03",
		"build-cache-mismatch: the go build at Dockerfile:6 does not match the deps image's build cache",
		"slower-than=20%: head build 52.0s is 30% slower than base 40.0s",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A build cache every go build can use, or none at all, passes.
	r.Deps.BuildCache.Builds[0].Mismatches, r.Deps.BuildCache.Mismatch = nil, false
	if f := r.Failures([]Condition{{Kind: "build-cache-mismatch"}}); f != nil {
		t.Errorf("build-cache-mismatch failed on a matching build cache: %q", f)
	}
	r.Deps.BuildCache = nil
	if f := r.Failures([]Condition{{Kind: "build-cache-mismatch"}}); f != nil {
		t.Errorf("build-cache-mismatch failed without a build cache: %q", f)
	}
	r.Deps = Deps{Checked: false, Note: "registry unreachable"}
	if f := r.Failures([]Condition{{Kind: "deps-miss"}}); f != nil {
		t.Errorf("deps-miss failed on an unchecked registry: %q", f)
	}
	for _, bad := range []string{"new-finding=fatal", "deps-miss=1", "build-cache-mismatch=yes", "slower-than=20", "slower-than=x%", "fast"} {
		if _, err := ParseCondition(bad); err == nil {
			t.Errorf("ParseCondition(%q) succeeded", bad)
		}
	}
}

// TestReportHiddenModules checks a published deps image whose modules a
// cache mount of the head Dockerfile hides: the verdict, the summary and
// --fail-on deps-miss say so, and the JSON replays it.
func TestReportHiddenModules(t *testing.T) {
	r := &Report{Base: "main", Head: ".", Keys: Keys{Same: true, Base: "ck1-x", Head: "ck1-x"},
		Deps: Deps{Checked: true, Hit: true, Target: "127.0.0.1:5000/app-deps", Ref: "127.0.0.1:5000/app-deps:ck1-x@sha256:00", Hidden: []string{"Dockerfile:5", "Dockerfile:9"}}}
	if v := r.Verdict(); strings.Contains(v, "ready") || !strings.Contains(v, "deps image published but hidden by a cache mount at Dockerfile:5 and Dockerfile:9") {
		t.Errorf("verdict %q", v)
	}
	if r.ok() {
		t.Error("ok() is true")
	}
	c, err := ParseCondition("deps-miss")
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Failures([]Condition{c}); len(f) != 1 || !strings.Contains(f[0], "Dockerfile:5 and Dockerfile:9 hides") {
		t.Errorf("failures %q", f)
	}
	var js, md1, md2 bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r.WriteMarkdown(&md1)
	back.WriteMarkdown(&md2)
	if md1.String() != md2.String() || !strings.Contains(md1.String(), "<summary>Deps image: published, but a cache mount hides its modules</summary>") {
		t.Errorf("markdown:\n%s\nreplayed:\n%s", md1.String(), md2.String())
	}
}

// TestReportBenchInvalid: report carries an invalid bench scenario
// through from the bench document, says what was wrong, and never gives
// a ratio for it.
func TestReportBenchInvalid(t *testing.T) {
	r := sampleReport()
	r.Timings = nil
	r.Bench = invalidBench().Summary()
	if r.Bench.Speedup != 0 || r.Bench.Scenarios[1].Invalid == "" {
		t.Fatalf("summary %+v, want no speedup and the pre-warmed scenario invalid", r.Bench)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(&js)
	if err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"markdown": func(b *bytes.Buffer) error { return back.WriteMarkdown(b) },
		"text":     func(b *bytes.Buffer) error { return back.WriteText(b) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{"with pre-warming (invalid)", "run 1 downloaded 2 modules the deps image should have held", "module lookup disabled by GOPROXY=off"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q:\n%s", name, want, out)
			}
		}
		if strings.Contains(out, "faster") {
			t.Errorf("%s: a speedup from an invalid scenario:\n%s", name, out)
		}
	}
	var md bytes.Buffer
	back.WriteMarkdown(&md)
	if !strings.Contains(md.String(), `Build timings: no speedup: the bench scenario "with pre-warming" is invalid`) {
		t.Errorf("markdown summary line:\n%s", md.String())
	}
	// A ratio of 1 or less is no speedup either.
	r.Bench = sampleBench().Summary()
	r.Bench.Speedup = 0.94
	if got := r.timingSummary(); got != "0.9×: no faster with the deps image" {
		t.Errorf("timing summary %q for 0.94×", got)
	}
}

// TestReportMultiPlatformBuildCache: for a multi-platform deps image, the
// report lists each platform's build cache and says which image each go
// build was compared with; the JSON replays to the same text.
func TestReportMultiPlatformBuildCache(t *testing.T) {
	amd := "go1.27.3 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath"
	arm := "go1.27.3 GOOS=linux GOARCH=arm64 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath"
	r := &Report{Base: "main", Head: ".", Keys: Keys{Same: true, Base: "ck1-x", Head: "ck1-x"},
		Deps: Deps{Checked: true, Hit: true, Target: "127.0.0.1:5000/app-deps", Ref: "127.0.0.1:5000/app-deps:ck1-x@sha256:00",
			BuildCache: &BuildCache{Settings: amd, Packages: 57,
				Platforms: []PlatformBuildCache{{Platform: "linux/amd64", Settings: amd, Packages: 57}, {Platform: "linux/arm64", Settings: arm, Packages: 56}},
				Builds: []GoBuild{
					{Position: "Dockerfile:6", Command: "build", Settings: arm, Platform: "linux/arm64"},
					{Position: "Dockerfile:9", Command: "build", Settings: strings.Replace(arm, " -trimpath", "", 1), Platform: "linux/arm64",
						Mismatches: []SettingMismatch{{Setting: "-trimpath", Build: "no -trimpath", Cache: "-trimpath"}}},
				},
				Mismatch: true}}}
	var text, js, replayed bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Its images hold a build cache for 2 platforms: linux/amd64: 57 compiled packages, for " + amd + "; linux/arm64: 56 compiled packages, for " + arm + ".",
		"The Dockerfile's go build (Dockerfile:6) matches the linux/arm64 image's: " + arm + ".",
		"(Dockerfile:9) uses no -trimpath, the deps image's build cache was compiled with -trimpath: every dependency will be compiled again (compared with the linux/arm64 image's).",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, text.String())
		}
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"platforms": [`, `"platform": "linux/arm64"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("the JSON lacks %s:\n%s", want, js.String())
		}
	}
	back, err := ReadReport(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	back.WriteText(&replayed)
	if replayed.String() != text.String() {
		t.Errorf("replayed:\n%s\nwant:\n%s", replayed.String(), text.String())
	}
}
