package buildlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// CompiledPackages returns the packages the go build steps of a build
// compiled, as "go build -v" printed them, from a build log in format f
// (any builder's: BuildKitJSON, BuildKitPlain, Buildah for buildah's and
// podman's output, Docker). ok is false when the log shows no go build
// step with -v, or is in no builder's format: the log cannot tell then. A
// step the layer cache skipped compiled nothing.
func CompiledPackages(log []byte, f Format) (pkgs []string, ok bool) {
	text, ok := stepLogs(log, f, isGoBuildV)
	if !ok {
		return nil, false
	}
	return GoBuildPackages(text), true
}

// GoBuildPackages returns the lines of "go build -v" output that name a
// package, each once, in order; never nil.
func GoBuildPackages(text string) []string {
	pkgs := []string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		// -v prints one import path a line; anything else (a warning,
		// "# pkg" before compiler errors) is not a package.
		if line != "" && !strings.ContainsAny(line, " \t#") && module.CheckImportPath(line) == nil && !slices.Contains(pkgs, line) {
			pkgs = append(pkgs, line)
		}
	}
	return pkgs
}

// goBuildV matches a go build or go install with -v among its flags.
var goBuildV = regexp.MustCompile(`\bgo\s+(?:build|install)\b[^;&|]*\s-v(?:\s|=true\b|$)`)

// isGoBuildV reports whether a step's instruction runs go build -v.
func isGoBuildV(instruction string) bool {
	return strings.HasPrefix(strings.ToUpper(instruction), "RUN ") && goBuildV.MatchString(instruction)
}

// buildKitStepLogs returns what the steps whose instruction match
// printed, from buildctl --progress=rawjson output: the logs of their
// vertices, in order. ok is false when no vertex matches.
func buildKitStepLogs(rawjson []byte, match func(string) bool) (string, bool) {
	type status struct {
		Vertexes []struct {
			Digest string `json:"digest"`
			Name   string `json:"name"`
		} `json:"vertexes"`
		Logs []struct {
			Vertex string `json:"vertex"`
			Data   []byte `json:"data"`
		} `json:"logs"`
	}
	vertices := map[string]bool{}
	var out strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(rawjson))
	sc.Buffer(make([]byte, 0, 64<<10), maxStepLogLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var st status
		if json.Unmarshal(line, &st) != nil {
			continue
		}
		for _, v := range st.Vertexes {
			// "[build 7/7] RUN ...": the instruction after the step.
			name := v.Name
			if strings.HasPrefix(name, "[") {
				if _, rest, ok := strings.Cut(name, "] "); ok {
					name = rest
				}
			}
			if match(name) {
				vertices[v.Digest] = true
			}
		}
		for _, l := range st.Logs {
			if vertices[l.Vertex] {
				out.Write(l.Data)
			}
		}
	}
	return out.String(), len(vertices) > 0
}

// stepLogs returns what the steps whose instruction match printed, from a
// build log in format f. ok is false when no step matches or f is no
// builder's format.
func stepLogs(log []byte, f Format, match func(string) bool) (string, bool) {
	switch f {
	case BuildKitJSON:
		return buildKitStepLogs(log, match)
	case BuildKitPlain:
		return plainStepLogs(log, match)
	case Buildah:
		return buildahStepLogs(log, match)
	case Docker:
		return dockerStepLogs(log, match)
	}
	return "", false
}

// plainLog matches a line a step printed in BuildKit's plain output: "#8
// 0.412 go: downloading …", the seconds since the step started first.
var plainLog = regexp.MustCompile(`^#(\d+) \d+(?:\.\d+)? (.*)$`)

// plainStepLogs returns what the steps whose instruction match printed,
// from BuildKit's plain output ("buildctl --progress=plain", "docker build
// --progress=plain"): the "#N SECONDS TEXT" lines of the vertices
// announced as "#N [stage i/n] INSTRUCTION". ok is false when no step
// matches.
func plainStepLogs(output []byte, match func(string) bool) (string, bool) {
	var out strings.Builder
	named := map[string]bool{}    // vertices announced
	matching := map[string]bool{} // those whose instruction matches
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(make([]byte, 0, 64<<10), maxStepLogLine)
	for sc.Scan() {
		text := strings.TrimRight(sc.Text(), "\r")
		m := plainLine.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		id, rest := m[1], m[2]
		if !named[id] {
			named[id] = true
			if st, ok := parseStepName(rest); ok && match(st.Instruction) {
				matching[id] = true
			}
			continue
		}
		if !matching[id] {
			continue
		}
		if lm := plainLog.FindStringSubmatch(text); lm != nil {
			out.WriteString(lm[2] + "\n")
		}
	}
	return out.String(), len(matching) > 0
}

// dockerStepLogs returns what the steps whose instruction match printed,
// from the classic docker builder's output: the lines after a matching
// "Step n/m : INSTRUCTION" and its " ---> Running in ID", up to
// "Removing intermediate container ID" (" ---> Removed intermediate
// container ID" since Docker 25), the step's image " ---> ID" or the next
// step; the color sequences the docker command puts around a step's
// stderr are taken off. ok is false when no step matches.
func dockerStepLogs(output []byte, match func(string) bool) (string, bool) {
	var out strings.Builder
	found, inStep, running := false, false, false
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(make([]byte, 0, 64<<10), maxStepLogLine)
	for sc.Scan() {
		text := stripSGR(strings.TrimRight(sc.Text(), "\r"))
		trimmed := strings.TrimSpace(text)
		if m := dockerStep.FindStringSubmatch(trimmed); m != nil {
			inStep, running = match(m[3]), false
			found = found || inStep
			continue
		}
		if !inStep {
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "---> Running in "):
			running = true
		case strings.HasPrefix(trimmed, "---> "), strings.HasPrefix(trimmed, "Removing intermediate container "):
			running = false
		case running:
			out.WriteString(text + "\n")
		}
	}
	return out.String(), found
}

// buildahStepLogs returns what the steps whose instruction match printed,
// from buildah's (or podman's) plain output: the lines after their
// "STEP n/m: INSTRUCTION" line up to the next step or layer line. ok is
// false when no step matches.
func buildahStepLogs(output []byte, match func(string) bool) (string, bool) {
	var out strings.Builder
	found, in := false, false
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(make([]byte, 0, 64<<10), maxStepLogLine)
	for sc.Scan() {
		text := strings.TrimRight(sc.Text(), "\r")
		if m := buildahStep.FindStringSubmatch(text); m != nil {
			in = match(m[5])
			found = found || in
			continue
		}
		if strings.HasPrefix(text, "--> ") || strings.HasPrefix(text, "COMMIT") {
			in = false
			continue
		}
		if in {
			out.WriteString(text + "\n")
		}
	}
	return out.String(), found
}

// GoDownloads returns the modules whose zips the go command downloaded,
// from what its -x flag prints ("go mod download -x", "go build -x"): the
// "# get URL/@v/VERSION.zip: 200 OK (0.010s)" lines, each module once, in
// order; never nil. A zip one proxy of GOPROXY did not have (a 404, then
// the next proxy) is not counted, nor the .mod and .info files, nor
// modules fetched from version control (GOPROXY=direct), for which the go
// command prints git commands. The module path is the longest tail of the
// URL's path before "/@v/" that is a valid module path, so a proxy at
// "https://host/go/" reads right; one whose own path starts with an
// element holding a dot does not.
func GoDownloads(text string) []module.Version {
	mods := []module.Version{}
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "# get ")
		if !ok {
			continue
		}
		// "URL: STATUS (TIME)" once the response came; "URL" alone before.
		rawURL, status, ok := strings.Cut(rest, ": ")
		if !ok || !strings.HasPrefix(status, "200 ") {
			continue
		}
		m, ok := proxyZip(rawURL)
		if ok && !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	return mods
}

// proxyZip reads the module and version from the URL of a module zip on a
// GOPROXY: ".../github.com/!burnt!sushi/toml/@v/v1.4.0.zip".
func proxyZip(rawURL string) (module.Version, bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return module.Version{}, false
	}
	dir, file, ok := strings.Cut(u.Path, "/@v/")
	if !ok {
		return module.Version{}, false
	}
	escVersion, ok := strings.CutSuffix(file, ".zip")
	if !ok {
		return module.Version{}, false
	}
	version, err := module.UnescapeVersion(escVersion)
	if err != nil {
		return module.Version{}, false
	}
	elems := strings.Split(strings.Trim(dir, "/"), "/")
	for i := range elems {
		p, err := module.UnescapePath(strings.Join(elems[i:], "/"))
		if err == nil && module.Check(p, version) == nil {
			return module.Version{Path: p, Version: version}, true
		}
	}
	return module.Version{}, false
}

// GoCompiles returns the packages the go command compiled, from what its
// -x flag prints ("go build -x", "go install -x"): the import path after
// -p of each compile command, each package once, in order; never nil. A
// main package, compiled as "-p main", is named by its import path from the
// link's import configuration ("packagefile example.com/cmd/app=$WORK/b001/_pkg_.a"),
// and left out when the log has none. Packages found in the build cache
// are not compiled and not listed.
func GoCompiles(text string) []string {
	type compile struct{ dir, pkg string }
	var compiles []compile
	paths := map[string]string{} // action directory ($WORK/b001) → import path
	work := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if w, ok := strings.CutPrefix(line, "WORK="); ok {
			work = w
			continue
		}
		if cfg, ok := strings.CutPrefix(line, "packagefile "); ok {
			if p, file, ok := strings.Cut(cfg, "="); ok && path.Base(file) == "_pkg_.a" {
				paths[path.Dir(file)] = p
			}
			continue
		}
		args := strings.Fields(line)
		// Skip the environment before the command: GOROOT='/usr/local/go' compile ...
		for len(args) > 0 && strings.Contains(args[0], "=") {
			args = args[1:]
		}
		if len(args) == 0 || path.Base(args[0]) != "compile" {
			continue
		}
		var c compile
		for i := 1; i+1 < len(args); i++ {
			switch args[i] {
			case "-o":
				c.dir = path.Dir(strings.Replace(args[i+1], "$WORK", work, 1))
			case "-p":
				c.pkg = args[i+1]
			}
		}
		if c.pkg != "" {
			compiles = append(compiles, c)
		}
	}
	pkgs := []string{}
	for _, c := range compiles {
		p := c.pkg
		if p == "main" {
			if p = paths[c.dir]; p == "" {
				continue
			}
		}
		if !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// RunOutput returns what the RUN steps of a build printed, from a build
// log in format f (any builder's: BuildKitJSON, BuildKitPlain, Buildah for
// buildah's and podman's output, Docker), in order. ok is false for
// another format: the log cannot tell then. A step the layer cache
// skipped printed nothing.
func RunOutput(log []byte, f Format) (text string, ok bool) {
	isRun := func(instruction string) bool { return strings.HasPrefix(strings.ToUpper(instruction), "RUN ") }
	switch f {
	case BuildKitJSON, BuildKitPlain, Buildah, Docker:
		text, _ = stepLogs(log, f, isRun)
		return text, true
	}
	return "", false
}

// ModuleDownloads returns the modules the go command downloaded, from its
// output: the zips its -x flag shows fetched (as [GoDownloads] reads
// them), and the "go: downloading MODULE VERSION" lines that every go
// command but "go mod download" prints before fetching a zip; each module
// once, in order; never nil. "go mod download" without -x prints nothing
// for what it downloads: its downloads are seen only with -x.
func ModuleDownloads(text string) []module.Version {
	mods := GoDownloads(text)
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "go: downloading ")
		if !ok {
			continue
		}
		p, v, ok := strings.Cut(strings.TrimSpace(rest), " ")
		if !ok || module.Check(p, v) != nil {
			continue
		}
		if m := (module.Version{Path: p, Version: v}); !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	return mods
}

// OfflineErrors returns the go command's errors about a download that
// GOPROXY=off refused, "go: example.com/m@v1.2.0: module lookup disabled
// by GOPROXY=off", each once, in order; never nil.
func OfflineErrors(text string) []string {
	errs := []string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "disabled by GOPROXY=off") && !slices.Contains(errs, line) {
			errs = append(errs, line)
		}
	}
	return errs
}
