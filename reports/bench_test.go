package reports

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sampleBench is a bench run with its aggregates filled in as
// internal/bench computes them.
func sampleBench() *BenchRun {
	steps := func(cached bool, s float64) []BenchStep {
		return []BenchStep{{Stage: "build", Instruction: "COPY go.mod go.sum ./", Cached: cached, Seconds: 0.1},
			{Stage: "build", Instruction: "RUN go mod download", Cached: cached, Seconds: s}}
	}
	two := 2
	own := []string{"example.com/service/internal/greet", "example.com/service/cmd/api"}
	return &BenchRun{Header: Header{ProtocolVersion: ProtocolVersion}, Builder: "buildkit", Context: "service", Runs: 3, DepsImage: "127.0.0.1:5801/deps:ck1-x@sha256:00",
		Scenarios: []BenchScenario{
			{Name: ScenarioCold, Title: "without pre-warming", Median: 40, Min: 38, Max: 42,
				Runs: []BenchBuild{{Seconds: 40, Steps: steps(false, 9)}, {Seconds: 42, Steps: steps(false, 9)}, {Seconds: 38, Steps: steps(false, 8)}}},
			{Name: ScenarioPrewarmed, Title: "with pre-warming", Median: 30, Min: 29, Max: 31,
				Runs: []BenchBuild{{Seconds: 30, Steps: steps(false, 0.2)}, {Seconds: 31}, {Seconds: 29, Steps: steps(false, 0.2)}}},
			{Name: ScenarioBuildCache, Title: "with pre-warming, module and build cache", Median: 11, Min: 10, Max: 12,
				Image: "127.0.0.1:5801/deps:ck1-x-bc0123456789ab@sha256:01",
				Note:  "without the cache mount on GOCACHE at Dockerfile:12 (/root/.cache/go-build): it would hide the build cache of the deps image",
				Runs:  []BenchBuild{{Seconds: 12, Steps: steps(false, 0.2), CompiledPackages: &two, Compiled: own}, {Seconds: 11, CompiledPackages: &two, Compiled: own}, {Seconds: 10, Steps: steps(false, 0.2), CompiledPackages: &two, Compiled: own}}},
			{Name: ScenarioCodeChange, Title: "code change, layer cache warm", Median: 5.5, Min: 5, Max: 6,
				Runs: []BenchBuild{{Seconds: 5, Steps: steps(true, 0)}, {Seconds: 6, Steps: steps(true, 0)}}},
		},
		Speedup: 40.0 / 30, BuildCacheSpeedup: 40.0 / 11,
	}
}

// skippedBench is sampleBench with the buildcache scenario skipped.
func skippedBench() *BenchRun {
	r := sampleBench()
	r.Scenarios[2] = BenchScenario{Name: ScenarioBuildCache, Title: "with pre-warming, module and build cache",
		Skipped: "the deps image cannot hold a build cache for this build: the build (Dockerfile:12) names go1.25 but the base image has go1.26.8"}
	r.BuildCacheSpeedup = 0
	return r
}

// invalidBench is sampleBench as bench fills it when the pre-warmed
// scenario downloaded modules (its cache mount on the module cache taken
// off) and the build cache scenario failed offline: the downloads
// counted, both invalid, no speedup.
func invalidBench() *BenchRun {
	r := sampleBench()
	n := func(k int) *int { return &k }
	for i := range r.Scenarios[0].Runs {
		r.Scenarios[0].Runs[i].ModulesDownloaded = n(13)
	}
	pre := &r.Scenarios[1]
	pre.Runs[0].ModulesDownloaded, pre.Runs[0].Downloaded = n(2), []string{"github.com/google/uuid@v1.6.0", "golang.org/x/sync@v0.14.0"}
	pre.Runs[1].ModulesDownloaded = n(0)
	pre.Runs[2].ModulesDownloaded = n(0)
	pre.Note = "GOPROXY=off in the stages FROM the deps image, so that a module it lacks fails the build; without 1 cache mount that would hide what the deps image holds (dropped_mounts)"
	pre.DroppedMounts = []string{"Dockerfile:9 (/go/pkg/mod): hides the deps image's module cache /go/pkg/mod"}
	pre.Invalid = "run 1 downloaded 2 modules the deps image should have held (github.com/google/uuid@v1.6.0, golang.org/x/sync@v0.14.0)"
	r.Scenarios[2] = BenchScenario{Name: ScenarioBuildCache, Title: "with pre-warming, module and build cache", Image: "127.0.0.1:5801/deps:ck1-x-bc0123456789ab@sha256:01",
		Invalid: `run 1 failed: it needed to download what the deps image lacks: "go: github.com/google/uuid@v1.6.0: module lookup disabled by GOPROXY=off"`}
	r.Speedup, r.BuildCacheSpeedup = 0, 0
	return r
}

// replayBench is skippedBench with the builds' logs saved (--logs), the
// sample TestReplay round-trips, and the fields of an invalid scenario.
func replayBench() *BenchRun {
	r := skippedBench()
	r.Dockerfile, r.Bump = "service/Dockerfile", "golang.org/x/text@v0.15.0"
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		for j := range s.Runs {
			s.Runs[j].Log = fmt.Sprintf("logs/%s-%d.log", s.Name, j+1)
		}
	}
	r.Scenarios[3].Changed = "cmd/api/main.go"
	r.Scenarios[0].Runs[2].Steps[1].Error = "process did not complete successfully: exit code: 1"
	inv := invalidBench().Scenarios[1]
	inv.Runs[1].Log = "logs/prewarmed-2.log"
	r.Scenarios[1] = inv
	r.Speedup = 0
	return r
}

func TestBenchRender(t *testing.T) {
	for _, tc := range []struct {
		file  string
		r     *BenchRun
		write func(*BenchRun, *bytes.Buffer) error
	}{
		{"sample.txt", sampleBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, Text, r) }},
		{"sample.md", sampleBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, Markdown, r) }},
		{"sample.json", sampleBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, JSON, r) }},
		{"sample.svg", sampleBench(), func(r *BenchRun, b *bytes.Buffer) error { return r.WriteSVG(b) }},
		{"skipped.txt", skippedBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, Text, r) }},
		{"skipped.md", skippedBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, Markdown, r) }},
		{"skipped.svg", skippedBench(), func(r *BenchRun, b *bytes.Buffer) error { return r.WriteSVG(b) }},
		{"invalid.txt", invalidBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, Text, r) }},
		{"invalid.md", invalidBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, Markdown, r) }},
		{"invalid.json", invalidBench(), func(r *BenchRun, b *bytes.Buffer) error { return Write(b, JSON, r) }},
		{"invalid.svg", invalidBench(), func(r *BenchRun, b *bytes.Buffer) error { return r.WriteSVG(b) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(tc.r, &b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "bench", tc.file)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs (go test -update rewrites it):\n%s", golden, b.Bytes())
			}
		})
	}
}

// TestBenchInvalid: an invalid scenario gives no ratio in any format,
// and each says why.
func TestBenchInvalid(t *testing.T) {
	r := invalidBench()
	for _, f := range []Format{Text, Markdown} {
		var b bytes.Buffer
		if err := Write(&b, f, r); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{"run 1 downloaded 2 modules the deps image should have held", "module lookup disabled by GOPROXY=off", "Dockerfile:9 (/go/pkg/mod): hides the deps image's module cache", "with pre-warming (invalid)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: no %q:\n%s", f, want, out)
			}
		}
		if regexp.MustCompile(`\d\.\d+×`).MatchString(out) {
			t.Errorf("%s: a ratio, though the pre-warmed scenarios are invalid:\n%s", f, out)
		}
	}
	var svg bytes.Buffer
	r.WriteSVG(&svg)
	if strings.Contains(svg.String(), "×") || !strings.Contains(svg.String(), "no speedup: with pre-warming is invalid") {
		t.Errorf("SVG title:\n%s", svg.String())
	}
}

// TestBenchSVGLayout: the left margin fits the longest label, and
// whiskers, and the legend's word for them, come only with runs that
// differ.
func TestBenchSVGLayout(t *testing.T) {
	long := strings.Repeat("m", 60)
	one := &BenchRun{Builder: "buildkit", Runs: 1, Scenarios: []BenchScenario{
		{Name: ScenarioCold, Title: long, Median: 10, Min: 10, Max: 10, Runs: []BenchBuild{{Seconds: 10}}},
		{Name: ScenarioPrewarmed, Title: "with pre-warming", Median: 5, Min: 5, Max: 5, Runs: []BenchBuild{{Seconds: 5}}},
	}}
	var b bytes.Buffer
	if err := one.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if strings.Contains(svg, "whisker") || strings.Contains(svg, "<line x1=\"") && strings.Count(svg, "<line") != 1 {
		t.Errorf("one run per scenario: whiskers drawn or promised:\n%s", svg)
	}
	m := regexp.MustCompile(`<text x="(\d+)" y="\d+" text-anchor="end">` + long).FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no label %q:\n%s", long, svg)
	}
	// The label ends at x and must start right of 0, at 7.5px a character
	// (13px sans-serif runs about 7.2px on average).
	var end int
	fmt.Sscan(m[1], &end)
	if end-len(long)*15/2 < 0 {
		t.Errorf("the label ends at x=%d: %d characters do not fit left of it", end, len(long))
	}
	two := sampleBench()
	b.Reset()
	two.WriteSVG(&b)
	if !strings.Contains(b.String(), "whiskers: min to max") || strings.Count(b.String(), "<line") != 5 {
		t.Errorf("runs that differ: want the whiskers (4) and the axis, and the legend naming them:\n%s", b.String())
	}
	// Runs that agree draw no whisker.
	two.Scenarios[3].Min, two.Scenarios[3].Max = 5.5, 5.5
	b.Reset()
	two.WriteSVG(&b)
	if strings.Count(b.String(), "<line") != 4 {
		t.Errorf("equal runs: want no whisker for them:\n%s", b.String())
	}
}

func TestSpeedupPhrase(t *testing.T) {
	tests := []struct {
		speedup float64
		em      string
		want    string
	}{
		{1.2689, "", "1.27× faster with pre-warming"},
		{4, "**", "**4.00×** faster with pre-warming"},
		{0.944, "", "0.94×: no faster with pre-warming"},
		{1, "", "1.00×: no faster with pre-warming"},
	}
	for _, tc := range tests {
		r := &BenchRun{Speedup: tc.speedup}
		if got := r.speedupPhrase(tc.em); got != tc.want {
			t.Errorf("speedup %v: got %q, want %q", tc.speedup, got, tc.want)
		}
	}
}

func TestReadBench(t *testing.T) {
	var js bytes.Buffer
	if err := Write(&js, JSON, sampleBench()); err != nil {
		t.Fatal(err)
	}
	legacy := bytes.Replace(js.Bytes(), []byte(`  "kind": "bench",`+"\n"), nil, 1)
	if bytes.Contains(legacy, []byte(`"kind"`)) {
		t.Fatalf("the old document still has a kind:\n%s", legacy)
	}
	var rep bytes.Buffer
	if err := Write(&rep, JSON, sampleReport()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in, want string // want: the error, or "" for the sample
	}{
		{"kind bench", js.String(), ""},
		{"no kind, as before documents had one", string(legacy), ""},
		{"a report", rep.String(), `reading bench JSON: it is a "report" document, not a bench run`},
		{"no builder", `{"protocol_version": 1, "runs": 3}`, `it has no "builder"`},
		{"protocol 2, no kind", `{"protocol_version": 2, "builder": "go"}`, "reading bench JSON: protocol_version 2, want 1"},
		{"protocol 2", `{"protocol_version": 2, "kind": "bench"}`, "protocol_version 2, want 1"},
		{"not JSON", "FROM golang\n", "reading bench JSON: "},
		{"bad field", `{"protocol_version": 1, "kind": "bench", "runs": "3"}`, "reading bench document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadBench(strings.NewReader(tc.in))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("ReadBench = %v, want an error containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var a, b bytes.Buffer
			Write(&a, Text, sampleBench())
			Write(&b, Text, got)
			if a.String() != b.String() || got.Summary().Speedup != 40.0/30 {
				t.Errorf("ReadBench read a different run:\n%s", b.String())
			}
		})
	}
}

// TestBenchMarkdownEscapes names a builder, scenarios and steps after
// markdown's and HTML's special characters: the pull-request comment must
// keep its own <details> blocks only, and every table row its columns.
func TestBenchMarkdownEscapes(t *testing.T) {
	r := &BenchRun{Builder: "<details>", Runs: 1, Speedup: 2, Scenarios: []BenchScenario{
		{Name: ScenarioCold, Title: "<details>", Median: 2, Min: 2, Max: 2, Note: "a|b <details>",
			Runs: []BenchBuild{{Seconds: 2, Steps: []BenchStep{{Stage: "<details>", Instruction: "RUN echo '<details>' | cat"}, {Stage: "a|b", Instruction: "RUN a|b `x`", Cached: true}}}}},
		{Name: ScenarioPrewarmed, Title: "a|b", Median: 1, Min: 1, Max: 1,
			Runs: []BenchBuild{{Seconds: 1, Steps: []BenchStep{{Stage: "a\nb", Instruction: "<details>"}}}}},
		{Name: ScenarioBuildCache, Title: "<details> a|b", Skipped: "a|b <details>\n</details>"},
	}}
	var b bytes.Buffer
	if err := Write(&b, Markdown, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	codeSpan := regexp.MustCompile("`[^`\n]*`")
	pipes := func(line string) int { return strings.Count(line, "|") - strings.Count(line, `\|`) }
	var opened, closed, columns int
	fenced := false
	for i, line := range strings.Split(md, "\n") {
		if line == "```" {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		switch {
		case strings.HasPrefix(line, "<details><summary>"):
			opened++
			line = strings.TrimPrefix(line, "<details><summary>")
			line = strings.TrimSuffix(line, "</summary>")
		case line == "</details>":
			closed++
			continue
		}
		if text := codeSpan.ReplaceAllString(line, "``"); strings.Contains(text, "<details>") || strings.Contains(text, "</details>") || strings.Contains(text, "<summary>") {
			t.Errorf("line %d has raw HTML of a name: %q", i+1, line)
		}
		if !strings.HasPrefix(line, "|") {
			columns = 0
			continue
		}
		n := pipes(line)
		if columns == 0 {
			columns = n // the header row
		}
		if n != columns {
			t.Errorf("line %d has %d cell borders, its table %d: %q", i+1, n, columns, line)
		}
	}
	if opened != 2 || closed != 2 {
		t.Errorf("%d <details> and %d </details> blocks, want 2 of each (the two scenarios that ran)", opened, closed)
	}
	for _, want := range []string{"| a\\|b | 1 | 1.0s |", "| a\\|b | `RUN a\\|b 'x'` | hit |", "| &lt;details> | `RUN echo '<details>' \\| cat` |", "<details><summary>&lt;details&gt;: steps"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown has no %q:\n%s", want, md)
		}
	}
	if t.Failed() {
		t.Logf("markdown:\n%s", md)
	}
	if testing.Verbose() {
		t.Log(md)
	}
}
