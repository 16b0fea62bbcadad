package analyzer

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// Dockerfiles of the layouts below: one that builds the module, one that
// builds a web front end, one that builds Go behind make.
const (
	goDockerfile = `FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /app ./cmd/app
FROM scratch
COPY --from=build /app /app
`
	nodeDockerfile = `FROM node:22
WORKDIR /web
COPY package.json ./
RUN npm install
COPY . .
RUN npm run build
`
	makeDockerfile = `FROM golang:1.26
WORKDIR /src
COPY . .
RUN make build
`
	makefile = "build:\n\tgo build -o bin/app .\n"
)

func layout(files ...string) fstest.MapFS {
	fsys := fstest.MapFS{"go.mod": {Data: []byte(goModule)}}
	for i := 0; i+1 < len(files); i += 2 {
		fsys[files[i]] = &fstest.MapFile{Data: []byte(files[i+1])}
	}
	return fsys
}

func TestFindDockerfiles(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want []string
	}{
		{"none", layout("main.go", "package main"), nil},
		{"root", layout("Dockerfile", goDockerfile), []string{"Dockerfile"}},
		// The service of issue 15: a multi-stage Dockerfile under scripts/.
		{"scripts", layout("scripts/Dockerfile", goDockerfile, "scripts/release.sh", "#!/bin/sh"), []string{"scripts/Dockerfile"}},
		// The golang-standards project layout.
		{"build-package", layout("build/package/Dockerfile", goDockerfile, "build/ci/config.yml", ""), []string{"build/package/Dockerfile"}},
		{"named-at-root", layout("Dockerfile.dev", goDockerfile, "api.Dockerfile", goDockerfile, "Dockerfile", goDockerfile),
			[]string{"Dockerfile", "Dockerfile.dev", "api.Dockerfile"}},
		{"lower-case", layout("dockerfile", goDockerfile), []string{"dockerfile"}},
		{"root-before-subdirectories", layout("docker/Dockerfile", nodeDockerfile, "Dockerfile", goDockerfile, "build/Dockerfile", goDockerfile),
			[]string{"Dockerfile", "build/Dockerfile", "docker/Dockerfile"}},
		{"deploy-and-dot-docker", layout(".docker/Dockerfile", goDockerfile, "deploy/app.Dockerfile", goDockerfile),
			[]string{"deploy/app.Dockerfile", ".docker/Dockerfile"}},
		{"not-dockerfiles", layout(
			"Dockerfile.dockerignore", "*\n", "api.Dockerfile.dockerignore", "*\n",
			"Dockerfile.d/x", "", "Dockerfile.", "", ".Dockerfile", "", "Dockerfiles.md", "", "MyDockerfile", "",
			"cmd/app/Dockerfile", goDockerfile, "docker/compose.yml", ""), nil},
		{"a-file-named-like-a-directory", layout("docker", "not a directory", "Dockerfile", goDockerfile), []string{"Dockerfile"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindDockerfiles(tc.fsys)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("FindDockerfiles = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFindGoDockerfile(t *testing.T) {
	tests := []struct {
		name     string
		fsys     fstest.MapFS
		want     string   // the Dockerfile picked; "" for an error
		found    []string // with an error: FindError.Found
		goBuilds []string // with an error: FindError.GoBuilds
		errText  string
	}{
		{name: "scripts", fsys: layout("scripts/Dockerfile", goDockerfile), want: "scripts/Dockerfile"},
		{name: "go-among-others", fsys: layout("Dockerfile", nodeDockerfile, "docker/api.Dockerfile", goDockerfile, "deploy/Dockerfile", "FROM nginx\n"),
			want: "docker/api.Dockerfile"},
		{name: "behind-make", fsys: layout("build/Dockerfile", makeDockerfile, "Makefile", makefile, "Dockerfile", nodeDockerfile), want: "build/Dockerfile"},
		{name: "unparsable-other", fsys: layout("Dockerfile.tmpl", "FROM {{ .Base }}\nRUN\n", "scripts/Dockerfile", goDockerfile), want: "scripts/Dockerfile"},
		{name: "none", fsys: layout("main.go", "package main"),
			errText: "no Dockerfile in ., build/, build/package/, scripts/, docker/, deploy/, .docker/"},
		{name: "no-go-build", fsys: layout("Dockerfile", nodeDockerfile, "docker/Dockerfile", "FROM nginx\n"),
			found: []string{"Dockerfile", "docker/Dockerfile"}, errText: "no go build or go install in the Dockerfiles found (Dockerfile, docker/Dockerfile)"},
		{name: "several", fsys: layout("Dockerfile", goDockerfile, "scripts/Dockerfile", goDockerfile, "docker/Dockerfile", nodeDockerfile),
			found: []string{"Dockerfile", "scripts/Dockerfile", "docker/Dockerfile"}, goBuilds: []string{"Dockerfile", "scripts/Dockerfile"},
			errText: "2 Dockerfiles build Go: Dockerfile, scripts/Dockerfile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, name, err := FindGoDockerfile(tc.fsys)
			if tc.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				if name != tc.want || b.Dockerfile != tc.want {
					t.Fatalf("FindGoDockerfile = %q (Dockerfile %q), want %q", name, b.Dockerfile, tc.want)
				}
				if len(b.GoBuilds()) == 0 {
					t.Errorf("%s: GoBuilds() is empty", name)
				}
				return
			}
			var fe *FindError
			if !errors.As(err, &fe) {
				t.Fatalf("FindGoDockerfile = %q, %v; want a *FindError", name, err)
			}
			if !slices.Equal(fe.Found, tc.found) || !slices.Equal(fe.GoBuilds, tc.goBuilds) {
				t.Errorf("FindError{Found: %q, GoBuilds: %q}, want %q, %q", fe.Found, fe.GoBuilds, tc.found, tc.goBuilds)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not contain %q", err, tc.errText)
			}
		})
	}
}
