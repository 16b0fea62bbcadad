package bench

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/depsimage"
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
// FROM the deps image ref and offline, as the pre-warmed scenario builds
// it (see [fromDepsImage]), and whether ref must rather be passed as the
// DEPS_IMAGE build arg (the Dockerfile already names ${DEPS_IMAGE}; its
// FROM is then kept).
func DerivedDockerfile(b *analyzer.Build, ref string) (dockerfile string, depsArg bool, err error) {
	lines, _ := withoutHidingMounts(b, false)
	return fromDepsImage(b, lines, ref, true)
}

// offlineComment and offlineEnv are the lines fromDepsImage adds after the
// FROM of the Go builder stage when the build must find every module in
// the deps image.
const (
	offlineComment = "# cachecheck bench: GOPROXY=off, so that a module missing from the deps image fails the build instead of being downloaded"
	offlineEnv     = "ENV GOPROXY=off"
)

// fromDepsImage returns the Dockerfile lines of b (as they are or edited
// in place) with the FROM of the Go builder stage replaced by ref, or,
// when that FROM already names ${DEPS_IMAGE}, the FROM kept and depsArg
// true: pass ref as the DEPS_IMAGE build arg.
//
// With offline, the lines after that FROM, and after every ARG declaring
// GOPROXY in the stages built on it, set ENV GOPROXY=off, so that the go
// commands of those stages can download nothing: a module the deps image
// lacks fails the build loudly instead of being fetched from the proxy
// (and timed as if the image served it). An ENV in the derived Dockerfile
// is used rather than a GOPROXY build arg: a build arg reaches only the
// stages that declare ARG GOPROXY, and it would reach every such stage,
// those not built on the deps image too. The ENV is repeated after each
// ARG GOPROXY because BuildKit lets an ARG declared after an ENV of the
// same name override it with the --build-arg value (buildah keeps the
// ENV): TestBenchBuilders saw BuildKit download through an ARG GOPROXY
// declared after the FROM. A GOPROXY=... on a RUN line still wins; the
// downloads it allows are counted from the log. GOFLAGS is left as the
// Dockerfile and the image set it: forcing -mod=mod would change what the
// build does (a vendor directory, a go.mod the go command would have
// refused to update), and with GOPROXY=off a missing requirement fails
// the same way under -mod=readonly.
func fromDepsImage(b *analyzer.Build, lines []string, ref string, offline bool) (dockerfile string, depsArg bool, err error) {
	st, ok := b.GoBuilderStage()
	if !ok {
		return "", false, fmt.Errorf("%s: no stage runs go mod download, go build or go install: nothing to start from a deps image", b.Dockerfile)
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var from []string
	if strings.Contains(st.Text, "DEPS_IMAGE") {
		depsArg = true
		from = lines[st.Line-1 : st.EndLine]
	} else {
		// FROM [--platform=...] IMAGE [AS name]: replace the first word
		// that is not a flag, keep the rest as written.
		words := strings.Fields(strings.ReplaceAll(st.Text, "\\\n", " "))
		for i := 1; i < len(words); i++ {
			if !strings.HasPrefix(words[i], "--") {
				words[i] = ref
				break
			}
		}
		from = []string{"# cachecheck bench: was " + strings.Join(strings.Fields(st.Text), " "), strings.Join(words, " ")}
	}
	after := map[int]bool{} // lines after which GOPROXY=off goes
	if offline {
		after[st.EndLine] = true
		for _, s := range b.Stages {
			r := s
			for i := 0; r.BaseStage >= 0 && i < len(b.Stages); i++ {
				r = b.Stages[r.BaseStage]
			}
			if r != st {
				continue
			}
			for _, in := range s.Instructions {
				if in.Kind == "ARG" && declares(in.Text, "GOPROXY") {
					after[in.EndLine] = true
				}
			}
		}
	}
	out := make([]string, 0, len(lines)+2*len(after)+1)
	out = append(out, lines[:st.Line-1]...)
	out = append(out, from...)
	for n := st.EndLine; ; n++ {
		if after[n] {
			out = append(out, offlineComment, offlineEnv)
		}
		if n >= len(lines) {
			break
		}
		out = append(out, lines[n])
	}
	return strings.Join(out, "\n") + "\n", depsArg, nil
}

// declares reports whether the ARG instruction text declares name:
// "ARG GOPROXY", "ARG GOPROXY=https://proxy.example.com", "ARG A GOPROXY".
func declares(text, name string) bool {
	for _, w := range strings.Fields(strings.ReplaceAll(text, "\\\n", " "))[1:] {
		if k, _, _ := strings.Cut(w, "="); k == name {
			return true
		}
	}
	return false
}

// depsModCache is the module cache of a deps image, under its GOPATH
// /go, as internal/depsimage's Image sets GOMODCACHE in its config.
const depsModCache = "/" + depsimage.ModCacheDir

// withoutHidingMounts returns the lines of b's Dockerfile with every cache
// mount that hides a directory of the deps image taken off the RUN
// instructions of the stages built on the Go builder stage (which start
// from the deps image in a pre-warmed scenario): a mount on the image's
// GOPATH or module cache or a parent of them, and, with buildCache, on the
// GOCACHE of a go build in that RUN or a parent of it. Such a mount, fresh
// in a bench, shows the go command an empty directory where the image
// holds the modules (analyzer rule CC011) or the build cache (CC012).
// dropped says which, as "Dockerfile:LINE (TARGET): hides the deps
// image's module cache"; the lines keep their numbers.
func withoutHidingMounts(b *analyzer.Build, buildCache bool) (lines, dropped []string) {
	lines = slices.Clone(b.Lines)
	root, ok := b.GoBuilderStage()
	if !ok {
		return lines, nil
	}
	gocaches := map[*analyzer.Instruction][]string{}
	for _, gb := range b.GoBuilds() {
		gocaches[gb.Instruction] = append(gocaches[gb.Instruction], path.Clean(gb.Settings.GoCache))
	}
	for _, st := range b.Stages {
		r := st
		for i := 0; r.BaseStage >= 0 && i < len(b.Stages); i++ {
			r = b.Stages[r.BaseStage]
		}
		if r != root {
			continue
		}
		for _, in := range st.Instructions {
			if in.Run() == nil {
				continue
			}
			hides := func(target string) string {
				// The GOPATH, and any parent, covers the module cache.
				if covers(target, depsModCache) {
					return "hides the deps image's module cache " + depsModCache
				}
				if buildCache {
					for _, gc := range gocaches[in] {
						if covers(target, gc) {
							return "hides the deps image's build cache (GOCACHE " + gc + ")"
						}
					}
				}
				return ""
			}
			for n := in.Line - 1; n < in.EndLine && n < len(lines); n++ {
				lines[n] = cacheMountWord.ReplaceAllStringFunc(lines[n], func(m string) string {
					target := mountTarget(strings.TrimSpace(m))
					why := hides(target)
					if target == "" || why == "" {
						return m
					}
					dropped = append(dropped, fmt.Sprintf("%s:%d (%s): %s", b.Dockerfile, n+1, target, why))
					return ""
				})
			}
		}
	}
	return lines, dropped
}

// covers reports whether the directory dir is target or lies under it.
func covers(target, dir string) bool {
	return target == dir || target == "/" || strings.HasPrefix(dir, target+"/")
}

// downloadX matches a "go mod download" and the -x after it, if any.
var downloadX = regexp.MustCompile(`\bgo\s+mod\s+download\b(\s+-x\b)?`)

// withDownloadX adds -x to every "go mod download" of the Dockerfile text
// outside comments, so that the log names each module it downloads: the
// go command prints "go: downloading" for the modules go build and the
// others fetch, but nothing for go mod download's own, and the bench
// counts them (see [countDownloads]). -x adds two lines a file fetched and
// nothing when the module cache holds everything.
func withDownloadX(dockerfile string) string {
	lines := strings.Split(dockerfile, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		lines[i] = downloadX.ReplaceAllStringFunc(l, func(m string) string {
			if strings.HasSuffix(m, "-x") {
				return m
			}
			return m + " -x"
		})
	}
	return strings.Join(lines, "\n")
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

// runKeyword matches a RUN instruction's keyword and the blanks after it.
var runKeyword = regexp.MustCompile(`(?i)^\s*RUN\s+`)

// runFlag matches one RUN flag (--mount=…, --network=…, --security=…)
// with the blanks after it.
var runFlag = regexp.MustCompile(`^--[a-z]+(?:=\S*)?[ \t]*`)

// withoutRunFlags returns lines, the lines of b's Dockerfile (or an edit
// of them keeping their numbers), with every RUN instruction's flags
// taken off, for the classic docker builder, which refuses them all ("the
// --mount option requires BuildKit"). A flag on a continuation line
// before the command is taken off too; a RUN left with only the
// continuation goes on with the command on its next line. taken says which,
// as "Dockerfile:LINE --mount=type=cache,target=/root/.cache/go-build".
func withoutRunFlags(b *analyzer.Build, lines []string) (out, taken []string) {
	out = slices.Clone(lines)
	for _, st := range b.Stages {
		for _, in := range st.Instructions {
			if in.Run() == nil || in.Line < 1 || in.Line > len(out) {
				continue
			}
			n := in.Line - 1
			loc := runKeyword.FindStringIndex(out[n])
			if loc == nil {
				continue
			}
			pos := loc[1]
			for n < in.EndLine && n < len(out) {
				rest := out[n][pos:]
				for {
					m := runFlag.FindString(rest)
					if m == "" {
						break
					}
					taken = append(taken, fmt.Sprintf("%s:%d %s", b.Dockerfile, n+1, strings.TrimSpace(m)))
					rest = rest[len(m):]
				}
				out[n] = out[n][:pos] + rest
				// The command starts on this line, unless only the
				// continuation is left.
				if strings.TrimSpace(rest) != "\\" {
					break
				}
				n++
				if n < len(out) {
					pos = len(out[n]) - len(strings.TrimLeft(out[n], " \t"))
				}
			}
		}
	}
	return out, taken
}
