package bench

import (
	"slices"
	"testing"
)

func TestParseBump(t *testing.T) {
	tests := []struct {
		in      string
		path    string
		version string
		ok      bool
	}{
		{"golang.org/x/sync@v0.15.0", "golang.org/x/sync", "v0.15.0", true},
		{"github.com/google/uuid@latest", "github.com/google/uuid", "latest", true},
		{"example.com/a@master", "example.com/a", "master", true},
		{"example.com/a", "", "", false},
		{"@v1.0.0", "", "", false},
		{"example.com/a@", "", "", false},
		{"example.com/a@v1@v2", "", "", false},
		{"example.com/a@v1 v2", "", "", false},
		{"Example..com/a@v1.0.0", "", "", false},
		{"/abs/path@v1.0.0", "", "", false},
	}
	for _, tc := range tests {
		got, err := ParseBump(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseBump(%q): error %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (got.Path != tc.path || got.Version != tc.version) {
			t.Errorf("ParseBump(%q) = %v, want %s@%s", tc.in, got, tc.path, tc.version)
		}
	}
}

func sample() *Result {
	r := newResult("buildkit", "service", 3)
	steps := func(cached bool, s float64) []Step {
		return []Step{{Stage: "build", Instruction: "COPY go.mod go.sum ./", Cached: cached, Seconds: 0.1},
			{Stage: "build", Instruction: "RUN go mod download", Cached: cached, Seconds: s}}
	}
	add(r, Scenario{Name: Cold, Runs: []Build{{Seconds: 40, Steps: steps(false, 9)}, {Seconds: 42, Steps: steps(false, 9)}, {Seconds: 38, Steps: steps(false, 8)}}})
	add(r, Scenario{Name: Prewarmed, Runs: []Build{{Seconds: 30, Steps: steps(false, 0.2)}, {Seconds: 31}, {Seconds: 29, Steps: steps(false, 0.2)}}})
	add(r, Scenario{Name: BuildCache, Runs: []Build{{Seconds: 12}, {Seconds: 11}, {Seconds: 10}}})
	add(r, Scenario{Name: CodeChange, Runs: []Build{{Seconds: 5, Steps: steps(true, 0)}, {Seconds: 6, Steps: steps(true, 0)}}})
	return r
}

// skippedSample is sample with the buildcache scenario skipped.
func skippedSample() *Result {
	r := sample()
	r.Scenarios = slices.DeleteFunc(r.Scenarios, func(s Scenario) bool { return s.Name == BuildCache || s.Name == CodeChange })
	add(r, Scenario{Name: BuildCache, Skipped: ErrNoBuildCache.Error() + ": the build (Dockerfile:12) names go1.25 but the base image has go1.26.8"})
	add(r, sample().Scenarios[3])
	return r
}

func TestAggregates(t *testing.T) {
	r := sample()
	c := r.Scenario(Cold)
	if c.Median != 40 || c.Min != 38 || c.Max != 42 || c.Title != "without pre-warming" {
		t.Errorf("cold: median %v min %v max %v title %q, want 40 38 42 %q", c.Median, c.Min, c.Max, c.Title, "without pre-warming")
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
	if got := len(s.Summary().Scenarios); got != 3 {
		t.Errorf("Summary() of a result with a skipped scenario has %d scenarios, want the 3 that ran", got)
	}
	b := r.Summary()
	if len(b.Scenarios) != 4 || b.Scenarios[0].Name != "without pre-warming" || b.Scenarios[0].Runs != 3 || b.Speedup != r.Speedup {
		t.Errorf("Summary() = %+v", b)
	}
}
