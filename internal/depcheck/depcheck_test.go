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
