package gosettings

import (
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
)

// compileFlags are the go build flags kept in Settings.Flags, true for
// those that take a value.
var compileFlags = map[string]bool{
	"race": false, "msan": false, "asan": false, "cover": false, "linkshared": false,
	"gcflags": true, "asmflags": true, "buildmode": true, "pgo": true, "covermode": true,
	"coverpkg": true, "installsuffix": true, "compiler": true, "gccgoflags": true,
}

// otherValueFlags are go build flags that take a value and do not change
// how dependencies compile.
var otherValueFlags = map[string]bool{
	"o": true, "p": true, "ldflags": true, "mod": true, "modfile": true, "overlay": true,
	"C": true, "toolexec": true, "exec": true, "pkgdir": true,
}

// Parse reads build settings written as a go build command line without
// "go build": NAME=VALUE environment words followed by flags, such as
// "CGO_ENABLED=0 GOAMD64=v3 -trimpath -tags=netgo". Words that are not
// settings (-o out, -ldflags, package patterns) are ignored. The result is
// not normalized.
func Parse(line string) (Settings, error) {
	words, err := shellWords(line)
	if err != nil {
		return Settings{}, err
	}
	c, _ := commandFromWords(insertGoBuild(words), nil)
	return c.Settings, nil
}

// Command is one go build or go install command of a shell script, with
// the settings it builds with.
type Command struct {
	// Name is "build" or "install".
	Name string
	// Packages are the package arguments ("." when none).
	Packages []string
	// Settings are the command's settings: from the variables in scope,
	// NAME=VALUE words and exports in the script, GOFLAGS and the
	// command's flags. They are not normalized.
	Settings Settings
}

// ParseScript returns the go build and go install commands of a shell
// script, such as a Dockerfile's RUN instruction, in order. env holds the
// variables in scope (it is not changed); exports in the script apply to
// the commands after them. The script is split into simple commands at ;,
// &&, ||, |, &, parentheses and newlines outside quotes: an approximation
// that is good enough for the RUN lines of Dockerfiles.
func ParseScript(script string, env map[string]string) []Command {
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	var out []Command
	for _, cmd := range shellCommands(script) {
		if c, ok := parseCommand(cmd, env); ok {
			out = append(out, c)
		}
	}
	return out
}

// insertGoBuild puts "go build" between the leading NAME=VALUE words and
// the rest.
func insertGoBuild(words []string) []string {
	i := 0
	for i < len(words) && isAssignment(words[i]) {
		i++
	}
	out := slices.Clone(words[:i])
	out = append(out, "go", "build")
	return append(out, words[i:]...)
}

// parseCommand reads one simple shell command. env holds the variables in
// scope; exports in the script are added to it.
func parseCommand(cmd string, env map[string]string) (Command, bool) {
	words, err := shellWords(cmd)
	if err != nil || len(words) == 0 {
		return Command{}, false
	}
	if words[0] == "export" {
		for _, w := range words[1:] {
			if k, v, ok := strings.Cut(w, "="); ok && isAssignment(w) {
				env[k] = v
			}
		}
		return Command{}, false
	}
	return commandFromWords(words, env)
}

func isAssignment(w string) bool {
	k, _, ok := strings.Cut(w, "=")
	if !ok || k == "" {
		return false
	}
	for i, r := range k {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func commandFromWords(words []string, scope map[string]string) (Command, bool) {
	env := maps.Clone(scope)
	if env == nil {
		env = map[string]string{}
	}
	i := 0
	if i < len(words) && words[i] == "env" {
		i++
	}
	for i < len(words) && isAssignment(words[i]) {
		k, v, _ := strings.Cut(words[i], "=")
		env[k] = expandVars(v, env)
		i++
	}
	if i+1 >= len(words) || path.Base(words[i]) != "go" {
		return Command{}, false
	}
	sub := words[i+1]
	if sub != "build" && sub != "install" {
		return Command{}, false
	}
	c := Command{Name: sub}
	s := &c.Settings
	for k, v := range env {
		env[k] = expandVars(v, scope)
	}
	s.GOOS, s.GOARCH, s.GOAMD64 = env["GOOS"], env["GOARCH"], env["GOAMD64"]
	s.CGOEnabled, s.GOEXPERIMENT = env["CGO_ENABLED"], env["GOEXPERIMENT"]
	s.ModCache, s.GoCache = env["GOMODCACHE"], env["GOCACHE"]
	if s.ModCache == "" && env["GOPATH"] != "" {
		first, _, _ := strings.Cut(env["GOPATH"], ":")
		s.ModCache = path.Join(first, "pkg/mod")
	}
	if s.GoCache == "" && env["XDG_CACHE_HOME"] != "" {
		s.GoCache = path.Join(env["XDG_CACHE_HOME"], "go-build")
	} else if s.GoCache == "" && env["HOME"] != "" {
		s.GoCache = path.Join(env["HOME"], ".cache/go-build")
	}
	if s.ModCache == "" && env["HOME"] != "" && env["HOME"] != "/root" {
		s.ModCache = path.Join(env["HOME"], "go/pkg/mod")
	}
	if tc := env["GOTOOLCHAIN"]; strings.HasPrefix(tc, "go1") {
		s.GoVersion, _, _ = strings.Cut(tc, "+")
	}
	// GOFLAGS first, then the command line, which wins.
	flags := strings.Fields(env["GOFLAGS"])
	args := slices.Clone(words[i+2:])
	for j, w := range args {
		args[j] = expandVars(w, env)
	}
	applyFlags(s, flags)
	c.Packages = applyFlags(s, args)
	if len(c.Packages) == 0 {
		c.Packages = []string{"."}
	}
	return c, true
}

// expandVars expands $NAME and ${NAME} from env; a reference to a variable
// env does not hold makes the value unknown ("").
func expandVars(v string, env map[string]string) string {
	if !strings.Contains(v, "$") {
		return v
	}
	known := true
	out := os.Expand(v, func(k string) string {
		val, ok := env[k]
		known = known && ok
		return val
	})
	if !known {
		return ""
	}
	return out
}

// applyFlags applies go build flags to s and returns the non-flag words.
func applyFlags(s *Settings, args []string) []string {
	var pkgs []string
	for j := 0; j < len(args); j++ {
		w := args[j]
		if !strings.HasPrefix(w, "-") || w == "-" {
			pkgs = append(pkgs, w)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
		next := func() {
			if !hasVal && j+1 < len(args) {
				val, hasVal = args[j+1], true
				j++
			}
		}
		takesVal, known := compileFlags[name]
		switch {
		case name == "trimpath":
			s.Trimpath = !hasVal || val == "true"
		case name == "tags":
			next()
			s.Tags = strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ' ' })
		case known:
			if takesVal {
				next()
			}
			// The last value of a flag wins, as in the go command.
			s.Flags = slices.DeleteFunc(s.Flags, func(f string) bool {
				n, _, _ := strings.Cut(strings.TrimPrefix(f, "-"), "=")
				return n == name
			})
			if takesVal {
				s.Flags = append(s.Flags, "-"+name+"="+val)
			} else if !hasVal || val == "true" {
				s.Flags = append(s.Flags, "-"+name)
			}
		case otherValueFlags[name]:
			next()
		}
	}
	return pkgs
}

// shellCommands splits a shell script into simple commands at ;, &&, ||,
// |, & and newlines outside quotes. It is an approximation that is good
// enough for the RUN lines of Dockerfiles.
func shellCommands(script string) []string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out []string
	var cur strings.Builder
	var quote rune
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for _, r := range script {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == ';' || r == '&' || r == '|' || r == '\n' || r == '(' || r == ')':
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	return out
}

// shellWords splits a simple command into words, removing quotes.
func shellWords(cmd string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	esc := false
	for _, r := range cmd {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				esc = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, cmd)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
