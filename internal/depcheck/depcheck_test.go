// Package depcheck pins who may import whom: the top-level folders are the
// architecture, and these tests keep them so.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

// deps returns the non-standard packages that pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func TestDependencies(t *testing.T) {
	const self = "github.com/cachecheck/cachecheck/"
	for _, tc := range []struct {
		pkg     string
		allowed []string // prefixes of allowed non-standard packages
		denied  []string // prefixes never allowed
	}{
		// cachekey is pure: the standard library and x/mod.
		{pkg: self + "cachekey", allowed: []string{self + "cachekey", "golang.org/x/mod/"}},
		// reports renders; it holds no registry or image code.
		{pkg: self + "reports/...", denied: []string{"github.com/google/go-containerregistry", self + "internal/publish", self + "internal/depsimage"}},
		// layer writes tar streams and compresses them: no registry code,
		// nothing of the project's.
		{pkg: self + "internal/layer", allowed: []string{self + "internal/layer", "github.com/google/go-containerregistry/pkg/compression", "github.com/google/go-containerregistry/pkg/v1", "github.com/klauspost/"}, denied: []string{"github.com/google/go-containerregistry/pkg/v1/remote"}},
		// analyzer reads Dockerfiles and logs; no registry code either.
		{pkg: self + "analyzer/...", denied: []string{"github.com/google/go-containerregistry/pkg/v1/remote"}},
		// buildlog reads builders' logs: the standard library and x/mod.
		{pkg: self + "analyzer/buildlog", allowed: []string{self + "analyzer/buildlog", "golang.org/x/mod/"}},
		// gosettings models go build settings: the standard library and x/mod.
		{pkg: self + "analyzer/gosettings", allowed: []string{self + "analyzer/gosettings", "golang.org/x/mod/"}},
		// buildcache is given the build settings, not a Dockerfile: it does
		// not import BuildKit's Dockerfile parser (through analyzer).
		{pkg: self + "internal/buildcache/...", denied: []string{"github.com/moby/buildkit"}},
		// bench reaches deps images through its DepsImages interface, not
		// through the command line.
		{pkg: self + "internal/bench/...", denied: []string{self + "internal/cli"}},
		// warm is a library: no command line in it.
		{pkg: self + "internal/warm/...", denied: []string{self + "internal/cli", "github.com/spf13/pflag"}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			list := deps(t, tc.pkg)
			if len(list) == 0 && tc.allowed != nil {
				t.Fatalf("go list found no packages for %s", tc.pkg)
			}
			for _, d := range list {
				for _, p := range tc.denied {
					if strings.HasPrefix(d, p) {
						t.Errorf("%s imports %s", tc.pkg, d)
					}
				}
				if tc.allowed == nil {
					continue
				}
				ok := false
				for _, p := range tc.allowed {
					ok = ok || strings.HasPrefix(d, p)
				}
				if !ok {
					t.Errorf("%s imports %s; it may import only the standard library and %v", tc.pkg, d, tc.allowed)
				}
			}
		})
	}
}

// TestCLIImporters checks that internal/cli, the flags and rendering of the
// command line, is imported by the command alone (tests may drive it end
// to end): what a library user needs lives in other packages.
func TestCLIImporters(t *testing.T) {
	const self = "github.com/cachecheck/cachecheck/"
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", self+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s...: %v\n%s", self, err, out)
	}
	allowed := map[string]bool{self + "cmd/cachecheck": true}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		seen++
		for _, imp := range f[1:] {
			if imp == self+"internal/cli" && !allowed[f[0]] {
				t.Errorf("%s imports %s; only %s may", f[0], imp, self+"cmd/cachecheck")
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list found %d packages under %s...; want the whole module", seen, self)
	}
}
