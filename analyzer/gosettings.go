package analyzer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
)

// GoSettings are the settings of a go build that decide whether a compiled
// package in the build cache can be reused: two builds share cache entries
// for a dependency package only when all of them are equal. Flags that
// affect only the main packages or the link (-o, -ldflags, -v, -mod, ...)
// are not part of it.
type GoSettings struct {
	// GoVersion is the Go release, as `go env GOVERSION` prints it
	// ("go1.22.3"), or as far as a Dockerfile tells it ("go1.22" for
	// golang:1.22). "" when unknown.
	GoVersion string
	GOOS      string // default linux
	GOARCH    string // default amd64, or the stage's --platform
	// GOAMD64 is the amd64 microarchitecture level (v1 to v4); "" on other
	// architectures. Default v1.
	GOAMD64 string
	// CGOEnabled is "0" or "1"; "" when the build leaves it to the
	// toolchain's default (on when a C compiler is found).
	CGOEnabled   string
	GOEXPERIMENT string
	Trimpath     bool
	// Tags are the build tags (-tags), sorted, without duplicates.
	Tags []string
	// Flags are the other go build flags that change how dependency
	// packages compile, as -name or -name=value, sorted: -race, -msan,
	// -asan, -gcflags, -asmflags, -buildmode, -pgo, -cover, -covermode,
	// -coverpkg, -installsuffix, -linkshared, -compiler, -gccgoflags.
	Flags []string
	// ModCache is the module cache directory of the build (GOMODCACHE):
	// without -trimpath a package's directory enters its cache key.
	// Default /go/pkg/mod.
	ModCache string
	// GoCache is the build cache directory of the build (GOCACHE). It does
	// not enter cache keys; it says where the cache must lie. Default
	// /root/.cache/go-build.
	GoCache string
}

// compileFlags are the go build flags kept in GoSettings.Flags, true for
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

// Normalize fills in the defaults: GOOS linux, GOARCH amd64, GOAMD64 v1 on
// amd64, GOMODCACHE /go/pkg/mod, GOCACHE /root/.cache/go-build. It sorts
// the tags and flags.
func (s *GoSettings) Normalize() {
	if s.GOOS == "" {
		s.GOOS = "linux"
	}
	if s.GOARCH == "" {
		s.GOARCH = "amd64"
	}
	if s.GOARCH == "amd64" && s.GOAMD64 == "" {
		s.GOAMD64 = "v1"
	}
	if s.GOARCH != "amd64" {
		s.GOAMD64 = ""
	}
	if s.ModCache == "" {
		s.ModCache = "/go/pkg/mod"
	}
	if s.GoCache == "" {
		s.GoCache = "/root/.cache/go-build"
	}
	s.ModCache, s.GoCache = path.Clean(s.ModCache), path.Clean(s.GoCache)
	slices.Sort(s.Tags)
	s.Tags = slices.Compact(s.Tags)
	slices.Sort(s.Flags)
	s.Flags = slices.Compact(s.Flags)
}

// Lines returns the settings as canonical "name value" lines, the text
// [GoSettings.Digest] hashes. Empty values are left out.
func (s GoSettings) Lines() []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+" "+v)
		}
	}
	add("go", s.GoVersion)
	add("GOOS", s.GOOS)
	add("GOARCH", s.GOARCH)
	add("GOAMD64", s.GOAMD64)
	add("CGO_ENABLED", s.CGOEnabled)
	add("GOEXPERIMENT", s.GOEXPERIMENT)
	if s.Trimpath {
		add("trimpath", "true")
	}
	add("tags", strings.Join(s.Tags, ","))
	for _, f := range s.Flags {
		add("flag", f)
	}
	add("GOMODCACHE", s.ModCache)
	add("GOCACHE", s.GoCache)
	return out
}

// Digest returns "sha256:" and the hex SHA-256 of the canonical lines, each
// ending in a newline.
func (s GoSettings) Digest() string {
	h := sha256.New()
	for _, l := range s.Lines() {
		h.Write([]byte(l + "\n"))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// String returns the settings on one line, as a go command would be run:
// "go1.22.3 GOOS=linux GOARCH=amd64 ... -trimpath -tags=netgo".
func (s GoSettings) String() string {
	var w []string
	if s.GoVersion != "" {
		w = append(w, s.GoVersion)
	}
	w = s.appendWords(w, true)
	return strings.Join(w, " ")
}

// appendWords appends to w the settings after the Go release, as a go
// command would be run: the environment variables set (GOMODCACHE and
// GOCACHE too when caches is true), -trimpath, -tags and the other flags.
func (s GoSettings) appendWords(w []string, caches bool) []string {
	env := [][2]string{{"GOOS", s.GOOS}, {"GOARCH", s.GOARCH}, {"GOAMD64", s.GOAMD64}, {"CGO_ENABLED", s.CGOEnabled}, {"GOEXPERIMENT", s.GOEXPERIMENT}}
	if caches {
		env = append(env, [2]string{"GOMODCACHE", s.ModCache}, [2]string{"GOCACHE", s.GoCache})
	}
	for _, kv := range env {
		if kv[1] != "" {
			w = append(w, kv[0]+"="+kv[1])
		}
	}
	if s.Trimpath {
		w = append(w, "-trimpath")
	}
	if len(s.Tags) > 0 {
		w = append(w, "-tags="+strings.Join(s.Tags, ","))
	}
	return append(w, s.Flags...)
}

// Mismatches compares the settings of a build (s) with those a build cache
// was made for (cache) and describes each difference that makes the
// cache's entries unusable, such as "-trimpath: the build uses it, the
// cache was built without it": the [Difference.String] of each of
// [GoSettings.Differences].
func (s GoSettings) Mismatches(cache GoSettings) []string {
	var out []string
	for _, d := range s.Differences(cache) {
		out = append(out, d.String())
	}
	return out
}

// Difference is one setting in which a build differs from the settings a
// build cache was made for.
type Difference struct {
	// Setting is "Go version", "GOOS", "GOARCH", "GOAMD64", "CGO_ENABLED",
	// "GOEXPERIMENT", "-trimpath", "build tags", "build flags",
	// "GOMODCACHE" or "GOCACHE".
	Setting string
	// Build and Cache are the values of the build and of the cache, ""
	// for none; for -trimpath "true" or "".
	Build, Cache string
}

// String describes the difference as a sentence part: "GOOS: the build
// uses linux, the cache was built with windows".
func (d Difference) String() string {
	switch d.Setting {
	case "-trimpath":
		if d.Build != "" {
			return "-trimpath: the build uses it, the cache was built without it"
		}
		return "-trimpath: the cache was built with it, the build does not use it"
	case "Go version":
		return fmt.Sprintf("Go version: the build uses %s, the cache was built with %s", d.Build, d.Cache)
	}
	return fmt.Sprintf("%s: the build uses %s, the cache was built with %s", d.Setting, orNone(d.Build), orNone(d.Cache))
}

// BuildWords and CacheWords say the value of the build or of the cache as
// it reads on a go command line: "go1.26", "-trimpath", "no -trimpath",
// "-tags=netgo", "no build tags", "GOARCH=arm64", "no GOEXPERIMENT".
func (d Difference) BuildWords() string { return d.words(d.Build) }

// CacheWords: see [Difference.BuildWords].
func (d Difference) CacheWords() string { return d.words(d.Cache) }

func (d Difference) words(v string) string {
	switch d.Setting {
	case "Go version":
		return v
	case "-trimpath":
		if v == "" {
			return "no -trimpath"
		}
		return "-trimpath"
	case "build tags":
		if v == "" {
			return "no build tags"
		}
		return "-tags=" + v
	case "build flags":
		if v == "" {
			return "no compile flags"
		}
		return v
	}
	if v == "" {
		return "no " + d.Setting
	}
	return d.Setting + "=" + v
}

// Differences compares the settings of a build (s) with those a build
// cache was made for (cache) and returns each difference that makes the
// cache's entries unusable, in the order of [GoSettings.Lines]. Settings s
// leaves unknown ("" GoVersion or CGOEnabled) are not compared; a
// GoVersion of the form go1.22 matches any go1.22.x.
func (s GoSettings) Differences(cache GoSettings) []Difference {
	var out []Difference
	diff := func(name, build, cached string) {
		if build != cached {
			out = append(out, Difference{Setting: name, Build: build, Cache: cached})
		}
	}
	if s.GoVersion != "" && cache.GoVersion != "" && !sameRelease(s.GoVersion, cache.GoVersion) {
		out = append(out, Difference{Setting: "Go version", Build: s.GoVersion, Cache: cache.GoVersion})
	}
	diff("GOOS", s.GOOS, cache.GOOS)
	diff("GOARCH", s.GOARCH, cache.GOARCH)
	if s.GOARCH == cache.GOARCH {
		diff("GOAMD64", s.GOAMD64, cache.GOAMD64)
	}
	if s.CGOEnabled != "" && cache.CGOEnabled != "" {
		diff("CGO_ENABLED", s.CGOEnabled, cache.CGOEnabled)
	}
	diff("GOEXPERIMENT", s.GOEXPERIMENT, cache.GOEXPERIMENT)
	if s.Trimpath != cache.Trimpath {
		out = append(out, Difference{Setting: "-trimpath", Build: trueOrNone(s.Trimpath), Cache: trueOrNone(cache.Trimpath)})
	}
	diff("build tags", strings.Join(s.Tags, ","), strings.Join(cache.Tags, ","))
	diff("build flags", strings.Join(s.Flags, " "), strings.Join(cache.Flags, " "))
	if !s.Trimpath && !cache.Trimpath {
		diff("GOMODCACHE", s.ModCache, cache.ModCache)
	}
	diff("GOCACHE", s.GoCache, cache.GoCache)
	return out
}

func trueOrNone(b bool) string {
	if b {
		return "true"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// sameRelease reports whether a (perhaps only "go1.22") and b name the same
// release: equal, or a is a language version and b a release of it.
func sameRelease(a, b string) bool {
	if a == b {
		return true
	}
	va, ok1 := parseGoVersion(a)
	vb, ok2 := parseGoVersion(b)
	if !ok1 || !ok2 {
		return false
	}
	if va.kind == 0 || va.kind == 3 {
		return va.major == vb.major && va.minor == vb.minor
	}
	return va == vb
}

// GoBuild is one go build or go install of the module's own packages in a
// RUN instruction, with the settings it builds with.
type GoBuild struct {
	Stage       *Stage
	Instruction *Instruction
	// Command is "build" or "install".
	Command string
	// Packages are the package arguments ("." when none).
	Packages []string
	// Settings are the build's settings: from the RUN's ENV and ARG values
	// in scope, NAME=VALUE words and exports in the script, GOFLAGS, the
	// command's flags, the stage's --platform and the base image's tag.
	// CGOEnabled and GoVersion are "" when the Dockerfile does not tell.
	Settings GoSettings
}

// GoBuilds returns the go build and go install commands of the module's
// packages in the Dockerfile, in order.
func (b *Build) GoBuilds() []GoBuild {
	var out []GoBuild
	for _, st := range b.Stages {
		root := st
		for i := 0; root.BaseStage >= 0 && i < len(b.Stages); i++ {
			root = b.Stages[root.BaseStage]
		}
		goVersion := ""
		if name, tag := splitImage(root.Base); name == "golang" {
			if v, ok := imageGoVersion(tag); ok {
				goVersion = "go" + v.String()
			}
		}
		for _, in := range st.Instructions {
			if in.Run() == nil {
				continue
			}
			env := maps.Clone(in.Args)
			maps.Copy(env, in.Env)
			for _, cmd := range shellCommands(in.Script()) {
				gb, ok := parseGoBuildCommand(cmd, env)
				if !ok {
					continue
				}
				gb.Stage, gb.Instruction = st, in
				if gb.Settings.GoVersion == "" {
					gb.Settings.GoVersion = goVersion
				}
				if gb.Settings.GOARCH == "" && root.Platform != "" {
					if _, arch, ok := strings.Cut(root.Platform, "/"); ok {
						arch, _, _ = strings.Cut(arch, "/")
						if !strings.Contains(arch, "$") {
							gb.Settings.GOARCH = arch
						}
					}
				}
				gb.Settings.Normalize()
				out = append(out, gb)
			}
		}
	}
	return out
}

// ParseGoSettings reads build settings written as a go build command line
// without "go build": NAME=VALUE environment words followed by flags, such
// as "CGO_ENABLED=0 GOAMD64=v3 -trimpath -tags=netgo". Words that are not
// settings (-o out, -ldflags, package patterns) are ignored. The result is
// not normalized.
func ParseGoSettings(line string) (GoSettings, error) {
	words, err := shellWords(line)
	if err != nil {
		return GoSettings{}, err
	}
	gb, _ := goBuildFromWords(insertGoBuild(words), nil)
	return gb.Settings, nil
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

// parseGoBuildCommand reads one simple shell command. env holds the
// variables in scope; exports in the script are added to it.
func parseGoBuildCommand(cmd string, env map[string]string) (GoBuild, bool) {
	words, err := shellWords(cmd)
	if err != nil || len(words) == 0 {
		return GoBuild{}, false
	}
	if words[0] == "export" {
		for _, w := range words[1:] {
			if k, v, ok := strings.Cut(w, "="); ok && isAssignment(w) {
				env[k] = v
			}
		}
		return GoBuild{}, false
	}
	return goBuildFromWords(words, env)
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

func goBuildFromWords(words []string, scope map[string]string) (GoBuild, bool) {
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
		return GoBuild{}, false
	}
	sub := words[i+1]
	if sub != "build" && sub != "install" {
		return GoBuild{}, false
	}
	gb := GoBuild{Command: sub}
	s := &gb.Settings
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
	gb.Packages = applyFlags(s, args)
	if len(gb.Packages) == 0 {
		gb.Packages = []string{"."}
	}
	return gb, true
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
func applyFlags(s *GoSettings, args []string) []string {
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
