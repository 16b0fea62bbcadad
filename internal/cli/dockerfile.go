package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer"
)

// noDockerfileError is analyze's error for a build context dir with no
// Dockerfile at display, the path tried as the user would type it: it
// names the Dockerfiles analyzer.FindDockerfiles sees in dir and suggests
// flag with one of them.
func noDockerfileError(dir, display, flag string) error {
	found, err := analyzer.FindDockerfiles(os.DirFS(dir))
	if err != nil || len(found) == 0 {
		return fmt.Errorf("reading Dockerfile %q: no such file, nor any other Dockerfile in %s (looked in %s); give its path with %s", display, dir, analyzer.SearchedDirs(), flag)
	}
	paths := make([]string, len(found))
	for i, f := range found {
		paths[i] = filepath.ToSlash(filepath.Join(dir, filepath.FromSlash(f)))
	}
	if len(paths) == 1 {
		return fmt.Errorf("reading Dockerfile %q: no such file; found %s: analyze it with %s %s", display, paths[0], flag, paths[0])
	}
	return fmt.Errorf("reading Dockerfile %q: no such file; found %d Dockerfiles (%s): give the one to analyze with %s, for example %s %s",
		display, len(paths), strings.Join(paths, ", "), flag, flag, paths[0])
}
