package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestShort runs this test binary again with and without -test.short and
// CACHECHECK_INTEGRATION=1: only -short alone leaves the long tests out.
func TestShort(t *testing.T) {
	if os.Getenv("TESTENV_REPORT_SHORT") == "1" {
		SkipIfShort(t, "a long test")
		t.Log("the long test ran")
		return
	}
	tests := []struct {
		name        string
		args        []string
		integration string
		ran         bool
	}{
		{"plain", nil, "", true},
		{"-short", []string{"-test.short"}, "", false},
		{"-short in CI", []string{"-test.short"}, "1", true},
		{"CI", nil, "1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestShort$", "-test.v"}, tc.args...)...)
			cmd.Env = append(os.Environ(), "TESTENV_REPORT_SHORT=1", "CACHECHECK_INTEGRATION="+tc.integration)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			ran := strings.Contains(string(out), "the long test ran")
			skipped := strings.Contains(string(out), "--- SKIP: TestShort") && strings.Contains(string(out), "left out under -short")
			if ran != tc.ran || skipped == tc.ran {
				t.Errorf("ran %v, skipped %v; want ran %v:\n%s", ran, skipped, tc.ran, out)
			}
		})
	}
}
