package bench

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer"
)

// cacheMount matches a RUN --mount flag of type cache.
var cacheMount = regexp.MustCompile(`--mount=(\S*\btype=cache\b\S*)`)

// isolateCacheMounts gives every cache mount of the Dockerfile text an id
// ending in suffix: "--mount=type=cache,target=/root/.cache/go-build"
// becomes "--mount=type=cache,target=/root/.cache/go-build,id=/root/.cache/go-build-<suffix>".
// BuildKit and buildah keep cache mounts across builds whatever --no-cache
// says, keyed by their id (the target when no id is given); a fresh id is
// an empty cache, so a build meant to be cold is.
func isolateCacheMounts(dockerfile, suffix string) string {
	return cacheMount.ReplaceAllStringFunc(dockerfile, func(m string) string {
		opts := strings.Split(strings.TrimPrefix(m, "--mount="), ",")
		id, target := "", ""
		for i, o := range opts {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "id":
				id = v
				opts[i] = "id=" + v + "-" + suffix
			case "target", "dst", "destination":
				target = v
			}
		}
		if id == "" {
			opts = append(opts, "id="+target+"-"+suffix)
		}
		return "--mount=" + strings.Join(opts, ",")
	})
}

// DerivedDockerfile returns the Dockerfile of b with its Go builder stage
// FROM the deps image ref, as the pre-warmed scenario builds it, and
// whether ref must rather be passed as the DEPS_IMAGE build arg (the
// Dockerfile already names ${DEPS_IMAGE}; it is then returned unchanged).
func DerivedDockerfile(b *analyzer.Build, ref string) (dockerfile string, depsArg bool, err error) {
	return fromDepsImage(b, b.Lines, ref)
}

// fromDepsImage returns the Dockerfile lines of b (as they are or edited
// in place) with the FROM of the Go builder stage replaced by ref, or,
// when that FROM already names ${DEPS_IMAGE}, the lines unchanged and
// depsArg true: pass ref as the DEPS_IMAGE build arg.
func fromDepsImage(b *analyzer.Build, lines []string, ref string) (dockerfile string, depsArg bool, err error) {
	st, ok := b.GoBuilderStage()
	if !ok {
		return "", false, fmt.Errorf("%s: no stage runs go mod download, go build or go install: nothing to start from a deps image", b.Dockerfile)
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if strings.Contains(st.Text, "DEPS_IMAGE") {
		return strings.Join(lines, "\n") + "\n", true, nil
	}
	// FROM [--platform=...] IMAGE [AS name]: replace the first word that
	// is not a flag, keep the rest as written.
	words := strings.Fields(strings.ReplaceAll(st.Text, "\\\n", " "))
	for i := 1; i < len(words); i++ {
		if !strings.HasPrefix(words[i], "--") {
			words[i] = ref
			break
		}
	}
	out := make([]string, 0, len(lines)+1)
	out = append(out, lines[:st.Line-1]...)
	out = append(out, "# cachecheck bench: was "+strings.Join(strings.Fields(st.Text), " "), strings.Join(words, " "))
	out = append(out, lines[st.EndLine:]...)
	return strings.Join(out, "\n") + "\n", false, nil
}

// withoutGoCacheMounts returns the lines of b's Dockerfile with every cache
// mount on GOCACHE taken off the go builds of the stages built on the Go
// builder stage: such a mount, fresh in a bench, hides the build cache of
// the deps image (analyzer rule CC012 says to remove it). dropped says
// which, as "Dockerfile:LINE (TARGET)"; the lines keep their numbers.
func withoutGoCacheMounts(b *analyzer.Build) (lines, dropped []string) {
	lines = slices.Clone(b.Lines)
	root, ok := b.GoBuilderStage()
	if !ok {
		return lines, nil
	}
	for _, gb := range b.GoBuilds() {
		st := gb.Stage
		for i := 0; st.BaseStage >= 0 && i < len(b.Stages); i++ {
			st = b.Stages[st.BaseStage]
		}
		if st != root {
			continue
		}
		target := path.Clean(gb.Settings.GoCache)
		for n := gb.Instruction.Line - 1; n < gb.Instruction.EndLine && n < len(lines); n++ {
			lines[n] = cacheMountWord.ReplaceAllStringFunc(lines[n], func(m string) string {
				if mountTarget(strings.TrimSpace(m)) != target {
					return m
				}
				dropped = append(dropped, fmt.Sprintf("%s:%d (%s)", b.Dockerfile, n+1, target))
				return ""
			})
		}
	}
	return lines, dropped
}

// cacheMountWord matches a RUN --mount flag of type cache with the blanks
// after it.
var cacheMountWord = regexp.MustCompile(`--mount=\S*\btype=cache\b\S*[ \t]*`)

// mountTarget returns the cleaned target of a --mount flag, or "".
func mountTarget(flag string) string {
	for _, o := range strings.Split(strings.TrimPrefix(flag, "--mount="), ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "target", "dst", "destination":
			return path.Clean(v)
		}
	}
	return ""
}
