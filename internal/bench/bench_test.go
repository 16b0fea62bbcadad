package bench

import "testing"

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
