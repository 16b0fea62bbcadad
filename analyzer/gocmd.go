package analyzer

import (
	"regexp"
	"strconv"
	"strings"
)

// goCommandRE finds go command invocations in a shell script: "go build",
// "/usr/local/go/bin/go mod download", "CGO_ENABLED=0 go build".
var goCommandRE = regexp.MustCompile(`(?:^|[\s;&|(` + "`" + `])(?:[\w./-]*/)?go\s+(mod\s+download|mod\s+vendor|mod\s+tidy|mod\s+verify|build|install|test|get|run|generate|vet|list)\b([^;&|\n]*)`)

// goCall is one go command in a RUN.
type goCall struct {
	sub  string  // "mod download", "build", ...
	args string  // the rest of the command up to a shell separator
	from *behind // set for a go command behind make, a script or sh -c
}

func goCalls(script string) []goCall {
	// Join continuation lines that survived in heredocs.
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out []goCall
	for _, m := range goCommandRE.FindAllStringSubmatch(script, -1) {
		out = append(out, goCall{sub: strings.Join(strings.Fields(m[1]), " "), args: m[2]})
	}
	return out
}

func isDownload(c goCall) bool { return c.sub == "mod download" }

// compiles reports whether c can compile packages and so uses GOCACHE:
// go mod download, tidy, vendor and verify do not.
func compiles(c goCall) bool { return !strings.HasPrefix(c.sub, "mod ") }

// isBuild reports whether c compiles packages and so needs the modules.
func isBuild(c goCall) bool {
	switch c.sub {
	case "build", "install", "test", "run", "vet", "generate", "get", "list", "mod tidy", "mod vendor":
		// "go install tool@version" fetches a tool, not the module's
		// dependencies.
		return c.sub != "get" && c.sub != "install" || !strings.Contains(c.args, "@")
	}
	return false
}

// goVersion is a Go release version: 1.22, 1.22.3, 1.23rc1.
type goVersion struct {
	major, minor, patch int
	// kind orders the forms of one minor release the way the go command
	// does: language version "1.21" (0) < "1.21rc1" (1) < "1.21.0" (2).
	// For an image tag without a patch level, kind is 3: the newest patch.
	kind int
	rc   int
}

var goVersionRE = regexp.MustCompile(`^(?:go)?(\d+)\.(\d+)(?:\.(\d+)|(rc|beta)(\d+))?`)

// parseGoVersion parses a go or toolchain directive value ("1.22",
// "go1.22.3"). ok is false for anything else.
func parseGoVersion(s string) (v goVersion, ok bool) {
	m := goVersionRE.FindStringSubmatch(s)
	if m == nil {
		return v, false
	}
	v.major, _ = strconv.Atoi(m[1])
	v.minor, _ = strconv.Atoi(m[2])
	switch {
	case m[3] != "":
		v.patch, _ = strconv.Atoi(m[3])
		v.kind = 2
	case m[4] != "":
		v.rc, _ = strconv.Atoi(m[5])
		v.kind = 1
	}
	return v, true
}

// imageGoVersion reads the Go version from a golang image tag: "1.22-alpine"
// is the newest 1.22 patch release, "1.22.3-bookworm" is 1.22.3.
func imageGoVersion(tag string) (goVersion, bool) {
	v, ok := parseGoVersion(tag)
	if !ok {
		return v, false
	}
	if v.kind == 0 {
		v.kind = 3
	}
	return v, true
}

func (v goVersion) less(w goVersion) bool {
	a := [5]int{v.major, v.minor, v.kind, v.rc, v.patch}
	b := [5]int{w.major, w.minor, w.kind, w.rc, w.patch}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func (v goVersion) String() string {
	s := strconv.Itoa(v.major) + "." + strconv.Itoa(v.minor)
	switch v.kind {
	case 1:
		s += "rc" + strconv.Itoa(v.rc)
	case 2:
		s += "." + strconv.Itoa(v.patch)
	}
	return s
}
