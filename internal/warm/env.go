package warm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/modload"
	"golang.org/x/mod/module"
)

// MainModules returns the paths of the main modules of a key's module or
// workspace, sorted, from its "module DIR path PATH" input lines.
func MainModules(k *cachekey.Result) []string {
	var paths []string
	for _, line := range k.Inputs {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "module" && f[2] == "path" {
			paths = append(paths, f[3])
		}
	}
	sort.Strings(paths)
	return paths
}

// GoWorkEnv returns the environment for the go command in dir: GOWORK
// names dir's go.work for a workspace, and is off for a module, so the go
// command downloads what the key was computed from, whatever go.work a
// parent directory holds.
func GoWorkEnv(dir string, workspace bool) []string {
	env := os.Environ()
	v := "off"
	if workspace {
		abs, err := filepath.Abs(filepath.Join(dir, "go.work"))
		if err == nil {
			v = abs
		}
	}
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "GOWORK=") {
			out = append(out, e)
		}
	}
	return append(out, "GOWORK="+v)
}

// withPrivateHint adds to a download error naming modules that match
// GOPRIVATE (or GONOPROXY) how the go command fetches them: directly from
// their version control host, with the credentials of git or .netrc.
func withPrivateHint(err error) error {
	var de *modload.DownloadError
	if !errors.As(err, &de) {
		return err
	}
	// go env's GONOPROXY defaults to GOPRIVATE, either from the
	// environment or from the go env file.
	patterns := ""
	if de.GoEnv != nil {
		patterns = de.GoEnv.GONOPROXY
	}
	// The modules the go command named, in its JSON or on its stderr
	// ("go: path@version: …").
	named := map[string]bool{}
	for _, m := range de.Modules {
		named[m.Path+"@"+m.Version] = true
	}
	for _, w := range strings.Fields(de.Stderr) {
		if p, v, ok := strings.Cut(strings.TrimSuffix(w, ":"), "@"); ok && module.CheckPath(p) == nil && v != "" {
			named[p+"@"+v] = true
		}
	}
	var private []string
	for mv := range named {
		p, _, _ := strings.Cut(mv, "@")
		if patterns != "" && module.MatchPrefixPatterns(patterns, p) {
			private = append(private, mv)
		}
	}
	sort.Strings(private)
	if len(private) == 0 {
		return err
	}
	return fmt.Errorf("%w\n%s: private (GOPRIVATE/GONOPROXY %q), so the go command fetched it directly from its host; give it credentials with a .netrc file or a git credential helper, or set GOPROXY to a proxy that serves it", err, strings.Join(private, ", "), patterns)
}
