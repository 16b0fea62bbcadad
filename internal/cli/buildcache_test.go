package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildCacheSettingsFrom checks where --build-cache takes the build
// settings from, what it records as "settings_from" in warm's JSON and the
// line it prints when it guesses them.
func TestBuildCacheSettingsFrom(t *testing.T) {
	const goDockerfile = "FROM golang:1.26 AS build\nWORKDIR /src\nCOPY . .\nRUN CGO_ENABLED=0 go build -trimpath -tags netgo -o /app .\n"
	const nodeDockerfile = "FROM node:22\nRUN npm install\n"
	tests := []struct {
		name       string
		files      map[string]string
		buildFlags string
		dockerfile string // relative to the directory
		from       string // want f.from; "" for an error
		settings   string // a substring of the settings
		stderr     string // a substring of stderr; "" for none
		usageErr   string // a substring of the usage error
		err        string // a substring of another error
	}{
		{name: "scripts", files: map[string]string{"scripts/Dockerfile": goDockerfile, "docker/Dockerfile": nodeDockerfile},
			from: "scripts/Dockerfile:4", settings: "CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath -tags=netgo"},
		{name: "dockerfile-flag", files: map[string]string{"Dockerfile": goDockerfile, "build/Dockerfile": goDockerfile}, dockerfile: "build/Dockerfile",
			from: "build/Dockerfile:4", settings: "-trimpath -tags=netgo"},
		{name: "build-flags", files: map[string]string{"Dockerfile": goDockerfile, "build/Dockerfile": goDockerfile}, buildFlags: "CGO_ENABLED=1",
			from: "--build-flags", settings: "CGO_ENABLED=1"},
		{name: "none", files: map[string]string{"main.go": "package main\n"},
			from:     "guessed: no Dockerfile in DIR (looked in ., build/, build/package/, scripts/, docker/, deploy/, .docker/)",
			settings: "GOOS=linux GOARCH=amd64",
			stderr:   "cachecheck: no Dockerfile in DIR (looked in ., build/, build/package/, scripts/, docker/, deploy/, .docker/): compiling the build cache for GOOS=linux GOARCH=amd64 GOAMD64=v1 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build, CGO_ENABLED as the go command sets it (1 when it finds a C compiler) (the go command's defaults); give --dockerfile or --build-flags\n"},
		{name: "no-go-build", files: map[string]string{"deploy/Dockerfile": nodeDockerfile},
			from:   "guessed: no go build or go install in the Dockerfiles of DIR (deploy/Dockerfile)",
			stderr: "cachecheck: no go build or go install in the Dockerfiles of DIR (deploy/Dockerfile): compiling the build cache for "},
		{name: "unreadable", files: map[string]string{"Dockerfile": "FROM golang:1.26\nFORM x\n", "docker/Dockerfile": nodeDockerfile},
			err: "warm: --build-cache: reading the build settings: Dockerfile:2: unknown instruction: FORM"},
		{name: "several", files: map[string]string{"Dockerfile": goDockerfile, ".docker/Dockerfile": goDockerfile, "docker/Dockerfile": nodeDockerfile},
			usageErr: "warm: --build-cache: 2 Dockerfiles build Go: Dockerfile, .docker/Dockerfile in DIR; name the one whose go build the image serves with --dockerfile (for example --dockerfile DIR/Dockerfile), or give --build-flags"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f := &buildCacheFlags{command: "warm", enabled: true, buildFlags: tc.buildFlags}
			if tc.dockerfile != "" {
				f.dockerfile = filepath.Join(dir, tc.dockerfile)
			}
			var stderr bytes.Buffer
			s, err := f.settings(dir, nil, &stderr)
			subst := func(s string) string { return strings.ReplaceAll(s, "DIR", dir) }
			if tc.usageErr != "" {
				var ue *UsageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), subst(tc.usageErr)) {
					t.Fatalf("settings: %v; want a usage error containing %q", err, subst(tc.usageErr))
				}
				return
			}
			if tc.err != "" {
				var ue *UsageError
				if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) || stderr.Len() > 0 {
					t.Fatalf("settings: %v, stderr %q; want an error containing %q and no stderr", err, stderr.String(), tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			from := subst(tc.from)
			if tc.dockerfile != "" {
				from = filepath.ToSlash(filepath.Join(dir, tc.from))
			}
			if f.from != from {
				t.Errorf("from = %q, want %q", f.from, from)
			}
			if !strings.Contains(s.String(), tc.settings) {
				t.Errorf("settings %q, want them to contain %q", s, tc.settings)
			}
			if got, want := stderr.String(), subst(tc.stderr); want == "" && got != "" || !strings.Contains(got, want) {
				t.Errorf("stderr = %q, want %q", got, want)
			}
			if strings.Count(stderr.String(), "\n") > 1 {
				t.Errorf("stderr has more than one line: %q", stderr.String())
			}
		})
	}
}
