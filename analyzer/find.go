package analyzer

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// DockerfileDirs are the directories of a build context, in order, in
// which [FindDockerfiles] looks for Dockerfiles: the context itself, then
// the places projects keep them (build/package/ is the golang-standards
// project layout's).
var DockerfileDirs = []string{".", "build", "build/package", "scripts", "docker", "deploy", ".docker"}

// FindDockerfiles returns the Dockerfiles of the build context fsys the
// way projects lay them out: in each of [DockerfileDirs] in turn, a file
// named Dockerfile first, then those named *.Dockerfile and Dockerfile.*,
// sorted (the lower-case dockerfile spellings too; *.dockerignore files
// are not Dockerfiles). The paths are slash-separated, relative to fsys.
// A directory that does not exist is passed over.
func FindDockerfiles(fsys fs.FS) ([]string, error) {
	var out []string
	for _, dir := range DockerfileDirs {
		if fi, err := fs.Stat(fsys, dir); err == nil && !fi.IsDir() || errors.Is(err, fs.ErrNotExist) {
			continue
		}
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			if dir == "." {
				return nil, fmt.Errorf("listing the build context for Dockerfiles: %w", err)
			}
			return nil, fmt.Errorf("listing %q for Dockerfiles: %w", dir, err)
		}
		var plain, named []string
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !isDockerfileName(name) {
				continue
			}
			if !e.Type().IsRegular() {
				// A symbolic link is followed, as docker build -f follows it.
				fi, err := fs.Stat(fsys, path.Join(dir, name))
				if err != nil || !fi.Mode().IsRegular() {
					continue
				}
			}
			if strings.EqualFold(name, "Dockerfile") {
				plain = append(plain, path.Join(dir, name))
			} else {
				named = append(named, path.Join(dir, name))
			}
		}
		slices.Sort(plain) // Dockerfile before dockerfile
		slices.Sort(named)
		out = append(append(out, plain...), named...)
	}
	return out, nil
}

// isDockerfileName reports whether a file name is a Dockerfile's:
// Dockerfile, NAME.Dockerfile or Dockerfile.NAME (either case of the
// first letter), but no .dockerignore.
func isDockerfileName(name string) bool {
	if strings.HasSuffix(strings.ToLower(name), ".dockerignore") {
		return false
	}
	for _, df := range []string{"Dockerfile", "dockerfile"} {
		if name == df ||
			strings.HasPrefix(name, df+".") && len(name) > len(df)+1 ||
			strings.HasSuffix(name, "."+df) && len(name) > len(df)+1 {
			return true
		}
	}
	return false
}

// FindError is [FindGoDockerfile] finding no Dockerfile, none that builds
// Go, or several that do.
type FindError struct {
	// Found are the Dockerfiles found, as [FindDockerfiles] lists them.
	Found []string
	// GoBuilds are those among Found with a go build or go install of the
	// module's packages.
	GoBuilds []string
	// Unreadable are those among Found that could not be parsed, each
	// with its error.
	Unreadable []string
}

func (e *FindError) Error() string {
	switch {
	case len(e.Found) == 0:
		return "no Dockerfile in " + SearchedDirs()
	case len(e.GoBuilds) == 0:
		msg := fmt.Sprintf("no go build or go install in the Dockerfiles found (%s)", strings.Join(e.Found, ", "))
		if len(e.Unreadable) > 0 {
			msg += "; not parsed: " + strings.Join(e.Unreadable, "; ")
		}
		return msg
	default:
		return fmt.Sprintf("%d Dockerfiles build Go: %s", len(e.GoBuilds), strings.Join(e.GoBuilds, ", "))
	}
}

// SearchedDirs names the directories [FindDockerfiles] looks in, for
// messages: "., build/, build/package/, ...".
func SearchedDirs() string {
	names := make([]string, len(DockerfileDirs))
	for i, d := range DockerfileDirs {
		if d != "." {
			d += "/"
		}
		names[i] = d
	}
	return strings.Join(names, ", ")
}

// FindGoDockerfile finds the Dockerfile of the build context ctxFS that
// builds the module's Go packages: of those [FindDockerfiles] lists, the
// one with a go build or go install ([Build.GoBuilds], which follows make
// and scripts in the context). opts are passed to [Load] for each
// candidate; the Dockerfile's name is set to its path in the context. It
// returns the Dockerfile loaded and its path, or a [*FindError] when no
// Dockerfile builds Go or several do.
func FindGoDockerfile(ctxFS fs.FS, opts ...LoadOption) (*Build, string, error) {
	found, err := FindDockerfiles(ctxFS)
	if err != nil {
		return nil, "", err
	}
	e := &FindError{Found: found}
	var b *Build
	var name string
	for _, f := range found {
		cand, err := Load(ctxFS, append(slices.Clip(opts), WithDockerfile(nil, f), WithDisplayName(f))...)
		if err != nil {
			e.Unreadable = append(e.Unreadable, err.Error())
			continue
		}
		if len(cand.GoBuilds()) > 0 {
			e.GoBuilds = append(e.GoBuilds, f)
			b, name = cand, f
		}
	}
	if len(e.GoBuilds) != 1 {
		return nil, "", e
	}
	return b, name, nil
}
