package analyzer

import (
	"testing"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
)

func TestImageOlder(t *testing.T) {
	tests := []struct {
		tag, need string
		want      bool
	}{
		{"1.22-alpine", "1.22", false},
		{"1.22-alpine", "1.22.5", false}, // the newest 1.22 patch release
		{"1.22-alpine", "1.23", true},
		{"1.22-alpine", "1.23rc1", true},
		{"1.22.3-bookworm", "1.22.5", true},
		{"1.22.3-bookworm", "1.22.3", false},
		{"1.22.3", "1.22", false},
		{"1.23rc1", "1.23", false},
		{"1.23rc1", "1.23.0", true},
		{"1.23beta1", "1.23rc1", true},
	}
	for _, tc := range tests {
		have, ok1 := gosettings.ParseVersion(tc.tag)
		need, ok2 := gosettings.ParseVersion(tc.need)
		if !ok1 || !ok2 {
			t.Fatalf("ParseVersion(%q), ParseVersion(%q): %v, %v", tc.tag, tc.need, ok1, ok2)
		}
		if got := imageOlder(have, need); got != tc.want {
			t.Errorf("imageOlder(%s, %s) = %v, want %v", tc.tag, tc.need, got, tc.want)
		}
	}
}
