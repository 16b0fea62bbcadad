package analyzer

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestParseRefusesLoadOptions: Parse reads no files, so the options that
// say where the Dockerfile and its context are fail rather than being
// ignored; WithBuildArgs applies to both.
func TestParseRefusesLoadOptions(t *testing.T) {
	const src = "ARG BASE=golang:1.22\nFROM ${BASE}\nRUN go build .\n"
	for _, tc := range []struct {
		name string
		opts []LoadOption
		want string // in the error; "" for none
	}{
		{"none", nil, ""},
		{"build args", []LoadOption{WithBuildArgs(map[string]string{"BASE": "golang:1.23"})}, ""},
		{"dockerfile", []LoadOption{WithDockerfile(nil, "build/Dockerfile")}, "WithDockerfile applies to Load only"},
		{"names", []LoadOption{WithDisplayName("x/Dockerfile"), WithBuildArgs(nil), WithContextName("x")}, "WithDisplayName, WithContextName apply to Load only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(src), tc.opts...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Parse: error %v, want one containing %q", err, tc.want)
			}
			// Load takes them all.
			fsys := fstest.MapFS{"Dockerfile": {Data: []byte(src)}, "build/Dockerfile": {Data: []byte(src)}}
			if _, err := Load(fsys, tc.opts...); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}
