package bench

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sample() *Result {
	r := &Result{ProtocolVersion: ProtocolVersion, Builder: "buildkit", Context: "service", Runs: 3, DepsImage: "127.0.0.1:5801/deps:ck1-x@sha256:00"}
	steps := func(cached bool, s float64) []Step {
		return []Step{{Stage: "build", Instruction: "COPY go.mod go.sum ./", Cached: cached, Seconds: 0.1},
			{Stage: "build", Instruction: "RUN go mod download", Cached: cached, Seconds: s}}
	}
	r.add(Scenario{Name: Cold, Runs: []Build{{Seconds: 40, Steps: steps(false, 9)}, {Seconds: 42, Steps: steps(false, 9)}, {Seconds: 38, Steps: steps(false, 8)}}})
	r.add(Scenario{Name: Prewarmed, Runs: []Build{{Seconds: 30, Steps: steps(false, 0.2)}, {Seconds: 31}, {Seconds: 29, Steps: steps(false, 0.2)}}})
	two := 2
	own := []string{"example.com/service/internal/greet", "example.com/service/cmd/api"}
	r.add(Scenario{Name: BuildCache, Image: "127.0.0.1:5801/deps:ck1-x-bc0123456789ab@sha256:01",
		Note: "without the cache mount on GOCACHE at Dockerfile:12 (/root/.cache/go-build): it would hide the build cache of the deps image",
		Runs: []Build{{Seconds: 12, Steps: steps(false, 0.2), CompiledPackages: &two, Compiled: own}, {Seconds: 11, CompiledPackages: &two, Compiled: own}, {Seconds: 10, Steps: steps(false, 0.2), CompiledPackages: &two, Compiled: own}}})
	r.add(Scenario{Name: CodeChange, Runs: []Build{{Seconds: 5, Steps: steps(true, 0)}, {Seconds: 6, Steps: steps(true, 0)}}})
	return r
}

// skippedSample is sample with the buildcache scenario skipped.
func skippedSample() *Result {
	r := sample()
	r.Scenarios = slices.DeleteFunc(r.Scenarios, func(s Scenario) bool { return s.Name == BuildCache || s.Name == CodeChange })
	r.add(Scenario{Name: BuildCache, Skipped: ErrNoBuildCache.Error() + ": the build (Dockerfile:12) names go1.25 but the base image has go1.26.8"})
	r.add(sample().Scenarios[3])
	return r
}

func TestAggregates(t *testing.T) {
	r := sample()
	c := r.Scenario(Cold)
	if c.Median != 40 || c.Min != 38 || c.Max != 42 {
		t.Errorf("cold: median %v min %v max %v, want 40 38 42", c.Median, c.Min, c.Max)
	}
	if cc := r.Scenario(CodeChange); cc.Median != 5.5 {
		t.Errorf("code change median %v, want 5.5 (two runs)", cc.Median)
	}
	if r.Speedup != 40.0/30 {
		t.Errorf("speedup %v, want %v", r.Speedup, 40.0/30)
	}
	if r.BuildCacheSpeedup != 40.0/11 {
		t.Errorf("build cache speedup %v, want %v", r.BuildCacheSpeedup, 40.0/11)
	}
	s := skippedSample()
	if s.Speedup != 40.0/30 || s.BuildCacheSpeedup != 0 {
		t.Errorf("with the buildcache scenario skipped: speedup %v, build cache speedup %v, want %v and 0", s.Speedup, s.BuildCacheSpeedup, 40.0/30)
	}
	if got := len(s.Bench().Scenarios); got != 3 {
		t.Errorf("Bench() of a result with a skipped scenario has %d scenarios, want the 3 that ran", got)
	}
	b := r.Bench()
	if len(b.Scenarios) != 4 || b.Scenarios[0].Name != "without pre-warming" || b.Scenarios[0].Runs != 3 || b.Speedup != r.Speedup {
		t.Errorf("Bench() = %+v", b)
	}
}

func TestRender(t *testing.T) {
	r := sample()
	for _, tc := range []struct {
		file  string
		r     *Result
		write func(*Result, *bytes.Buffer) error
	}{
		{"sample.txt", r, func(r *Result, b *bytes.Buffer) error { return r.WriteText(b) }},
		{"sample.md", r, func(r *Result, b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
		{"sample.json", r, func(r *Result, b *bytes.Buffer) error { return r.WriteJSON(b) }},
		{"sample.svg", r, func(r *Result, b *bytes.Buffer) error { return r.WriteSVG(b) }},
		{"skipped.txt", skippedSample(), func(r *Result, b *bytes.Buffer) error { return r.WriteText(b) }},
		{"skipped.md", skippedSample(), func(r *Result, b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
		{"skipped.svg", skippedSample(), func(r *Result, b *bytes.Buffer) error { return r.WriteSVG(b) }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := tc.r
			var b bytes.Buffer
			if err := tc.write(r, &b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.file)
			if *update {
				os.MkdirAll("testdata", 0o755)
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
	// JSON replays into the same result.
	var b bytes.Buffer
	r.WriteJSON(&b)
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	var t1, t2 bytes.Buffer
	r.WriteText(&t1)
	back.WriteText(&t2)
	if t1.String() != t2.String() {
		t.Error("text of the replayed JSON differs")
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
		r := &Result{Speedup: tc.speedup}
		if got := r.speedupPhrase(tc.em); got != tc.want {
			t.Errorf("speedup %v: got %q, want %q", tc.speedup, got, tc.want)
		}
	}
}
