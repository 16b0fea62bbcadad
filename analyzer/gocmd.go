package analyzer

import (
	"regexp"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
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

// imageOlder reports whether the Go of a golang image whose tag starts with
// version have is older than need: "1.22.3-bookworm" has Go 1.22.3, but
// "1.22-alpine" has the newest 1.22 patch release, so no 1.22 release is
// newer.
func imageOlder(have, need gosettings.Version) bool {
	if have.IsLang() {
		need = need.Lang()
	}
	return have.Compare(need) < 0
}
