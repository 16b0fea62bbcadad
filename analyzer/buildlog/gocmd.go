package buildlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// CompiledPackages returns the packages the go build steps of a build
// compiled, as "go build -v" printed them, from a build log in format f
// (BuildKitJSON, or Buildah for buildah's and podman's output). ok is
// false when the log shows no go build step with -v, or is in another
// format: the log cannot tell then. A step the layer cache skipped
// compiled nothing.
func CompiledPackages(log []byte, f Format) (pkgs []string, ok bool) {
	var text string
	switch f {
	case BuildKitJSON:
		text, ok = buildKitStepLogs(log, isGoBuildV)
	case Buildah:
		text, ok = buildahStepLogs(log, isGoBuildV)
	}
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
