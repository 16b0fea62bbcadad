package buildcache

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Compile is what a go build FROM a deps image compiles and links, as
// [PredictCompile] foresees it.
type Compile struct {
	// Packages are the import paths of the packages it compiles, sorted:
	// what go build -v lists.
	Packages []string
	// Links counts the main packages among the build's package
	// arguments, which it links.
	Links int
}

// PredictCompile predicts what go build of patterns (the package
// arguments of a Dockerfile's go build, "." when none), run in the module
// at dir with the settings s, compiles FROM a deps image whose build cache
// was compiled for s: the main module's packages among the build's
// dependencies, which the build cache does not hold, and the links of its
// main packages. The dependencies' packages are taken to be in the build
// cache, as warm compiles every dependency of the module's main packages;
// one the module imports only since the warm would be compiled too.
//
// It lists the packages with the go command here (go list -e -deps) in
// the environment a compile for s gets (GOOS, GOARCH, GOAMD64,
// CGO_ENABLED, GOEXPERIMENT, GOPROXY=off, GOTOOLCHAIN=local unless the
// environment sets it) and with the tags and flags of s, so it needs no
// network: a dependency missing from the module cache only ends the
// walk there, and no dependency imports the main module's packages.
func PredictCompile(ctx context.Context, dir string, s Settings, patterns []string, opts ...Option) (*Compile, error) {
	o := options{goCmd: "go", env: os.Environ(), stderr: io.Discard}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving directory %q: %w", dir, err)
	}
	env := settingsEnv(o.env, s)
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	r := &runner{o: o, dir: absDir, env: env}
	args := append([]string{"list", "-e", "-deps"}, buildFlags(s)...)
	// One line a package of the main module: "main" or "-", a tab, its
	// import path; "!" first for a package of the patterns.
	args = append(args, "-f", `{{if and .Module .Module.Main}}{{if .DepOnly}}-{{else}}!{{end}}{{.Name}}	{{.ImportPath}}{{if .Error}}	{{.Error}}{{end}}{{end}}`, "--")
	out, err := r.run(ctx, append(args, patterns...)...)
	if err != nil {
		return nil, err
	}
	c := &Compile{Packages: []string{}}
	for line := range strings.Lines(out) {
		f := strings.SplitN(strings.TrimSuffix(line, "\n"), "\t", 3)
		if len(f) < 2 {
			continue
		}
		if len(f) == 3 {
			return nil, fmt.Errorf("go list in %s: %s: %s", absDir, f[1], f[2])
		}
		c.Packages = append(c.Packages, f[1])
		if f[0] == "!main" {
			c.Links++
		}
	}
	if len(c.Packages) == 0 {
		return nil, fmt.Errorf("go list in %s: no package of the main module matches %s", absDir, strings.Join(patterns, " "))
	}
	slices.Sort(c.Packages)
	return c, nil
}
