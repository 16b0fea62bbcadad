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

// replayBench is skippedBench with the builds' logs saved (--logs), the
// sample TestReplay round-trips.
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
