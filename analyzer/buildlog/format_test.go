package buildlog_test

import (
	"strings"
	"testing"

	. "github.com/cachecheck/cachecheck/analyzer/buildlog"
)

func TestFormatText(t *testing.T) {
	for _, f := range []Format{BuildKitJSON, BuildKitPlain, Buildah, Docker} {
		text, err := f.MarshalText()
		if err != nil {
			t.Fatalf("%v: MarshalText: %v", f, err)
		}
		var back Format
		if err := back.UnmarshalText(text); err != nil || back != f {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, back, err, f)
		}
		if f.Builder() == "" {
			t.Errorf("%v: no builder", f)
		}
	}
	if f, err := ParseFormat("podman"); err != nil || f != Buildah {
		t.Errorf(`ParseFormat("podman") = %v, %v; want buildah`, f, err)
	}
	for _, s := range []string{"", "unknown", "rawjson", "Buildah"} {
		if f, err := ParseFormat(s); err == nil || !strings.Contains(err.Error(), "buildkit-rawjson, buildkit-plain, buildah, docker") {
			t.Errorf("ParseFormat(%q) = %v, %v; want an error naming the formats", s, f, err)
		}
	}
	if _, err := Unknown.MarshalText(); err == nil {
		t.Error("Unknown.MarshalText: no error")
	}
	if got := Format(99).String(); got != "Format(99)" {
		t.Errorf("Format(99).String() = %q", got)
	}
	if _, err := Read(strings.NewReader("STEP 1/1: FROM x\n"), Unknown); err == nil {
		t.Error("Read with Unknown: no error")
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, log string
		want      Format
	}{
		{"rawjson", `{"vertexes":[]}` + "\n", BuildKitJSON},
		{"plain after blank lines", "\n  \n#1 [internal] load build definition from Dockerfile\n", BuildKitPlain},
		{"buildah", "STEP 1/2: FROM x\n", Buildah},
		{"buildah stage", "[1/2] STEP 1/8: FROM x AS build\n", Buildah},
		{"buildah after noise", "time=now level=warning\nSTEP 1/2: FROM x\n", Buildah},
		{"docker", "Sending build context to Docker daemon  13.87MB\nStep 1/16 : ARG GO_IMAGE=golang\n", Docker},
		{"docker compose", "Building cache\nStep 1/3 : FROM redis\n", Docker},
		{"docker before 1.13", "Step 1 : FROM x\n", Docker},
		{"docker lower case", "step 1/3 : FROM x\n", Unknown},
		{"step past line 50", strings.Repeat("noise\n", 50) + "STEP 1/2: FROM x\n", Unknown},
		{"step at line 50", strings.Repeat("noise\n", 49) + "STEP 1/2: FROM x\n", Buildah},
		{"empty", "", Unknown},
		{"text", "hello\nworld\n", Unknown},
		{"go mod download -x", "# get https://proxy.example.com/golang.org/x/mod/@v/v0.43.0.mod\n", Unknown},
		{"go build -x", "WORK=/tmp/go-build1\nmkdir -p $WORK/b001/\n", Unknown},
		{"plain after a comment", "# a comment\n#1 [internal] load build definition from Dockerfile\n", BuildKitPlain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect([]byte(tc.log)); got != tc.want {
				t.Errorf("Detect = %v, want %v", got, tc.want)
			}
		})
	}
}
