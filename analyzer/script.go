package analyzer

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// followHintRE finds what a RUN may follow: make, a shell given a script
// or -c, source, or a command run by its path.
var followHintRE = regexp.MustCompile(`\b(g?make|sh|bash|dash|ash|zsh|ksh|source|goreleaser|mage|task|bazel|bazelisk|gox|xgo|ko|just)\b|(^|[\s;&|(])\.{0,2}/?[\w.-]+/[\w./-]*|(^|[\s;&|(])\.\s`)

// shellState is what a shell knows while a script runs: its variables,
// which of them are exported, its functions and its directory.
type shellState struct {
	vars     map[string]string // values; unknownValue for one not known
	exported map[string]bool
	funcs    map[string]*syntax.Stmt
	cwd      string
	dirs     []string // pushd stack
}

func newShellState(env map[string]string, cwd string) *shellState {
	sh := &shellState{vars: maps.Clone(env), exported: map[string]bool{}, funcs: map[string]*syntax.Stmt{}, cwd: cwd}
	if sh.vars == nil {
		sh.vars = map[string]string{}
	}
	for k := range env {
		sh.exported[k] = true
	}
	return sh
}

// env returns the exported variables with known values.
func (sh *shellState) env() map[string]string {
	out := map[string]string{}
	for k := range sh.exported {
		if v, ok := sh.vars[k]; ok && v != unknownValue {
			out[k] = v
		}
	}
	return out
}

// child returns the state of a shell started by this one: the exported
// variables and the directory.
func (sh *shellState) child() *shellState { return newShellState(sh.env(), sh.cwd) }

func (sh *shellState) clone() *shellState {
	return &shellState{vars: maps.Clone(sh.vars), exported: maps.Clone(sh.exported), funcs: maps.Clone(sh.funcs), cwd: sh.cwd, dirs: slices.Clone(sh.dirs)}
}

// shellRun is one piece of shell text being walked.
type shellRun struct {
	f        *follower
	src      string
	file     string // context path of the file, "" for the RUN line
	lineBase int    // the file line of the text's first line, less one
	depth    int
	top      bool   // the RUN line itself, whose go commands goCalls finds
	via      string // how the RUN reaches this text
}

// runShell walks shell text for the go, make and script commands it runs.
func (f *follower) runShell(src, file string, lineBase int, sh *shellState, depth int, top bool, via string) {
	if depth > maxFollowDepth {
		f.opaque(fmt.Sprintf("%s not read: make and scripts nested more than %d deep", via, maxFollowDepth))
		return
	}
	if f.parser == nil {
		f.parser = syntax.NewParser(syntax.Variant(syntax.LangBash))
	}
	prog, err := f.parser.Parse(strings.NewReader(src), file)
	if err != nil {
		if !top {
			where := file
			if where == "" {
				where = via
			}
			f.opaque(fmt.Sprintf("%s cannot be parsed as a shell script: %s", where, printable(strings.TrimPrefix(err.Error(), file+":"))))
		}
		return
	}
	if !top {
		// The RUN line itself is GitUse's.
		f.noteGit(src, file, lineBase, via)
	}
	r := &shellRun{f: f, src: src, file: file, lineBase: lineBase, depth: depth, top: top, via: via}
	r.stmts(prog.Stmts, sh)
}

func (r *shellRun) stmts(list []*syntax.Stmt, sh *shellState) {
	for _, s := range list {
		if !r.f.step() {
			return
		}
		r.stmt(s, sh)
	}
}

func (r *shellRun) stmt(s *syntax.Stmt, sh *shellState) {
	if s == nil {
		return
	}
	switch c := s.Cmd.(type) {
	case *syntax.CallExpr:
		if len(c.Args) == 0 {
			for _, a := range c.Assigns {
				r.assign(a, sh, false)
			}
			return
		}
		tmp := map[string]string{}
		for _, a := range c.Assigns {
			if a.Name == nil {
				continue
			}
			if v, ok := r.assignValue(a, sh); ok {
				tmp[a.Name.Value] = v
			} else {
				tmp[a.Name.Value] = unknownValue
			}
		}
		var words []string
		for _, w := range c.Args {
			words = append(words, r.fields(w, sh)...)
		}
		r.command(words, tmp, s, sh)
	case *syntax.DeclClause:
		export := c.Variant.Value == "export"
		for _, a := range c.Args {
			if a.Naked && a.Name == nil {
				if a.Value != nil && c.Variant.Value != "local" && strings.Contains(a.Value.Lit(), "x") && strings.HasPrefix(a.Value.Lit(), "-") {
					export = true
				}
				continue
			}
			r.assign(a, sh, export)
		}
	case *syntax.BinaryCmd:
		if c.Op == syntax.Pipe || c.Op == syntax.PipeAll {
			if r.pipedShell(c, sh) {
				return
			}
		}
		r.stmt(c.X, sh)
		r.stmt(c.Y, sh)
	case *syntax.IfClause:
		for ic := c; ic != nil; ic = ic.Else {
			r.stmts(ic.Cond, sh)
			r.stmts(ic.Then, sh)
		}
	case *syntax.WhileClause:
		r.stmts(c.Cond, sh)
		r.stmts(c.Do, sh)
	case *syntax.ForClause:
		wi, ok := c.Loop.(*syntax.WordIter)
		if !ok {
			r.stmts(c.Do, sh)
			return
		}
		var items []string
		known := true
		for _, w := range wi.Items {
			v, ok, _ := r.word(w, sh)
			known = known && ok
			items = append(items, strings.Fields(v)...)
		}
		if !known || len(items) == 0 || len(items) > 8 {
			sh.vars[wi.Name.Value] = unknownValue
			r.stmts(c.Do, sh)
			return
		}
		for _, it := range items {
			sh.vars[wi.Name.Value] = it
			r.stmts(c.Do, sh)
		}
	case *syntax.CaseClause:
		for _, it := range c.Items {
			r.stmts(it.Stmts, sh)
		}
	case *syntax.Block:
		r.stmts(c.Stmts, sh)
	case *syntax.Subshell:
		r.stmts(c.Stmts, sh.clone())
	case *syntax.FuncDecl:
		if c.Name != nil {
			sh.funcs[c.Name.Value] = c.Body
		}
	case *syntax.TimeClause:
		r.stmt(c.Stmt, sh)
	case *syntax.CoprocClause:
		r.stmt(c.Stmt, sh)
	}
}

// unknownValue stands for a value the walk cannot know, such as a command
// substitution, in the environment of one command.
const unknownValue = "\x00unknown"

func (r *shellRun) assign(a *syntax.Assign, sh *shellState, export bool) {
	if a.Name == nil {
		return
	}
	name := a.Name.Value
	if export {
		sh.exported[name] = true
	}
	if a.Naked {
		return
	}
	if v, ok := r.assignValue(a, sh); ok {
		sh.vars[name] = v
	} else {
		sh.vars[name] = unknownValue
	}
}

func (r *shellRun) assignValue(a *syntax.Assign, sh *shellState) (string, bool) {
	if a.Array != nil || a.Index != nil {
		return "", false
	}
	v, ok := "", true
	if a.Value != nil {
		v, ok, _ = r.word(a.Value, sh)
	}
	if a.Append {
		old := sh.vars[a.Name.Value]
		return old + v, ok && old != unknownValue
	}
	return v, ok
}

// fields expands a word into the fields the shell would make of it,
// roughly: an unquoted variable splits at white space; an unknown part is
// kept as written.
func (r *shellRun) fields(w *syntax.Word, sh *shellState) []string {
	v, _, split := r.word(w, sh)
	if split {
		return strings.Fields(v)
	}
	return []string{v}
}

// word expands a word. known is false when a part cannot be known (a
// command substitution, a special parameter); that part is kept as
// written. split reports an unquoted expansion.
func (r *shellRun) word(w *syntax.Word, sh *shellState) (s string, known, split bool) {
	var b strings.Builder
	known = true
	var part func(p syntax.WordPart, quoted bool)
	part = func(p syntax.WordPart, quoted bool) {
		switch x := p.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(x.Value, quoted))
		case *syntax.SglQuoted:
			b.WriteString(x.Value)
		case *syntax.DblQuoted:
			for _, q := range x.Parts {
				part(q, true)
			}
		case *syntax.ParamExp:
			v, ok := r.param(x, sh)
			if !ok {
				known = false
				b.WriteString(r.text(x))
				return
			}
			b.WriteString(v)
			if !quoted {
				split = true
			}
		default:
			known = false
			b.WriteString(r.text(p))
		}
	}
	for _, p := range w.Parts {
		part(p, false)
	}
	return b.String(), known, split
}

// param expands $NAME, ${NAME}, ${NAME:-default} and ${NAME-default}.
func (r *shellRun) param(x *syntax.ParamExp, sh *shellState) (string, bool) {
	if x.Param == nil || x.Excl || x.Length || x.Width || x.Index != nil || x.Slice != nil || x.Repl != nil || x.Names != 0 || x.NestedParam != nil {
		return "", false
	}
	name := x.Param.Value
	if name == "" || !(name[0] == '_' || name[0] >= 'A' && name[0] <= 'Z' || name[0] >= 'a' && name[0] <= 'z') {
		return "", false // $1, $@, $?: not tracked
	}
	v, set := sh.vars[name]
	if v == unknownValue {
		return "", false
	}
	if x.Exp == nil {
		// Unset: the shell expands it to nothing.
		return v, true
	}
	switch op := x.Exp.Op; op {
	case syntax.DefaultUnset, syntax.DefaultUnsetOrNull, syntax.AssignUnset, syntax.AssignUnsetOrNull:
		if set && (v != "" || op == syntax.DefaultUnset || op == syntax.AssignUnset) {
			return v, true
		}
		d, ok := "", true
		if x.Exp.Word != nil {
			d, ok, _ = r.word(x.Exp.Word, sh)
		}
		if op == syntax.AssignUnset || op == syntax.AssignUnsetOrNull {
			if ok {
				sh.vars[name] = d
			} else {
				sh.vars[name] = unknownValue
			}
		}
		return d, ok
	case syntax.AlternateUnset, syntax.AlternateUnsetOrNull:
		if !set || v == "" && op == syntax.AlternateUnsetOrNull {
			return "", true
		}
		if x.Exp.Word == nil {
			return "", true
		}
		d, ok, _ := r.word(x.Exp.Word, sh)
		return d, ok
	}
	return "", false
}

// text returns the source text of a node.
func (r *shellRun) text(n syntax.Node) string {
	s, e := int(n.Pos().Offset()), int(n.End().Offset())
	if s < 0 || e > len(r.src) || s > e {
		return ""
	}
	return r.src[s:e]
}

// unescape removes the backslashes of a literal: outside quotes before any
// character, inside double quotes before $ ` " \ and newline.
func unescape(s string, quoted bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (!quoted || strings.IndexByte("$`\"\\\n", s[i+1]) >= 0) {
			i++
			if s[i] == '\n' {
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// line returns the file line of node n.
func (r *shellRun) line(n syntax.Node) int { return r.lineBase + int(n.Pos().Line()) }

// at names the place of node n: "scripts/build.sh:12", or "" on the RUN
// line.
func (r *shellRun) at(n syntax.Node) string {
	if r.file == "" {
		return ""
	}
	return r.file + ":" + strconv.Itoa(r.line(n))
}

// goDrivers are build tools that run go themselves, which are not read.
var goDrivers = map[string]bool{"goreleaser": true, "mage": true, "task": true, "bazel": true, "bazelisk": true, "gox": true, "xgo": true, "ko": true, "just": true}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true, "mksh": true}

// command handles one simple command: its words after expansion and the
// assignments before it.
func (r *shellRun) command(words []string, tmp map[string]string, s *syntax.Stmt, sh *shellState) {
	// Wrappers that run the rest of the line as a command.
	for len(words) > 0 {
		switch words[0] {
		case "exec", "time", "nohup", "command", "builtin", "nice", "sudo", "xargs":
			words = words[1:]
			for len(words) > 0 && strings.HasPrefix(words[0], "-") {
				words = words[1:]
			}
			continue
		case "env":
			words = words[1:]
			for len(words) > 0 {
				if k, v, ok := strings.Cut(words[0], "="); ok && isName(k) {
					tmp[k] = v
				} else if !strings.HasPrefix(words[0], "-") {
					break
				}
				words = words[1:]
			}
			continue
		}
		break
	}
	if len(words) == 0 {
		return
	}
	name := words[0]
	base := path.Base(name)
	switch {
	case sh.funcs[name] != nil:
		if r.depth >= maxFollowDepth {
			return
		}
		sub := *r
		sub.depth++
		sub.stmt(sh.funcs[name], sh)
	case base == "go":
		r.goCommand(words[1:], tmp, s, sh)
	case base == "make" || base == "gmake":
		r.f.runMake(words[1:], r.cmdEnv(tmp, sh), sh.cwd, r.depth+1, r.chain(strings.Join(words, " ")))
	case shells[base]:
		r.shellCommand(words, tmp, s, sh)
	case name == "source" || name == ".":
		if len(words) > 1 {
			r.script(words[1], "", sh, true)
		}
	case goDrivers[base]:
		r.f.opaque(fmt.Sprintf("%s runs %s, which cachecheck does not read", r.placeOf(s), base))
	case name == "cd":
		switch {
		case len(words) < 2:
			sh.cwd = absPath("/", sh.vars["HOME"])
		case words[1] != "-":
			sh.cwd = absPath(sh.cwd, words[1])
		}
	case name == "pushd" && len(words) > 1:
		sh.dirs = append(sh.dirs, sh.cwd)
		sh.cwd = absPath(sh.cwd, words[1])
	case name == "popd" && len(sh.dirs) > 0:
		sh.cwd = sh.dirs[len(sh.dirs)-1]
		sh.dirs = sh.dirs[:len(sh.dirs)-1]
	case strings.Contains(name, "/"):
		r.script(name, "", sh, false)
	}
}

// placeOf names where a command is, for a reason: "scripts/build.sh:4",
// or how the RUN reaches it.
func (r *shellRun) placeOf(n syntax.Node) string {
	if at := r.at(n); at != "" {
		return at
	}
	if r.via != "" {
		return r.via
	}
	return "the RUN"
}

// chain extends via with one more step.
func (r *shellRun) chain(step string) string {
	step = shortCmd(step)
	if r.via == "" {
		return step
	}
	return r.via + " → " + step
}

// shortCmd cuts a command for a message.
func shortCmd(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		cut := 60
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// cmdEnv is the environment of a command: the exported variables and the
// assignments before it.
func (r *shellRun) cmdEnv(tmp map[string]string, sh *shellState) map[string]string {
	env := sh.env()
	for k, v := range tmp {
		if v == unknownValue {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

// shellCommand follows "sh script.sh ARGS" and "bash -c 'script'".
func (r *shellRun) shellCommand(words []string, tmp map[string]string, s *syntax.Stmt, sh *shellState) {
	for i := 1; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "-c":
			if i+1 < len(words) {
				child := sh.child()
				maps.Copy(child.vars, r.cmdEnv(tmp, sh))
				for k := range tmp {
					child.exported[k] = true
				}
				via := r.via
				if r.file == "" && via == "" {
					via = path.Base(words[0]) + " -c"
				}
				r.f.runShell(words[i+1], r.file, r.line(s)-1, child, r.depth+1, false, via)
			}
			return
		case w == "-o" || w == "+o":
			i++
		case w == "-s" || w == "-i":
			return // commands from standard input: see pipedShell
		case strings.HasPrefix(w, "-") || strings.HasPrefix(w, "+"):
		default:
			child := sh.child()
			maps.Copy(child.vars, r.cmdEnv(tmp, sh))
			for k := range tmp {
				child.exported[k] = true
			}
			r.script(w, strings.Join(words[:i+1], " "), child, true)
			return
		}
	}
}

// pipedShell reports a shell that reads its script from a pipe ("curl ...
// | sh") as a step that cannot be read. It returns false when c is another
// pipe.
func (r *shellRun) pipedShell(c *syntax.BinaryCmd, sh *shellState) bool {
	call, ok := c.Y.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) == 0 {
		return false
	}
	var words []string
	for _, w := range call.Args {
		words = append(words, r.fields(w, sh)...)
	}
	for len(words) > 0 && (words[0] == "sudo" || words[0] == "env" || words[0] == "exec") {
		words = words[1:]
	}
	if len(words) == 0 || !shells[path.Base(words[0])] {
		return false
	}
	for _, w := range words[1:] {
		if !strings.HasPrefix(w, "-") {
			return false // a script file or -c string
		}
		if w == "-c" {
			return false
		}
	}
	what := "a script piped into " + path.Base(words[0])
	if src := r.text(c.X); downloaderRE.MatchString(src) {
		what = "a remote script (" + shortCmd(src) + " | " + path.Base(words[0]) + ")"
	}
	r.f.opaque(fmt.Sprintf("%s runs %s, which cachecheck cannot read", r.placeOf(c), what))
	return true
}

// script follows a script run by its path, by a shell or by source.
// interp is the shell command line when a shell runs it; same reports
// source, which runs the script in this shell.
func (r *shellRun) script(p, interp string, sh *shellState, same bool) {
	desc := p
	if interp != "" {
		desc = interp
	}
	via := r.chain(desc)
	if strings.Contains(p, "$") || p == "" {
		r.f.opaque(fmt.Sprintf("%s: the script's path is not known", via))
		return
	}
	cp := absPath(sh.cwd, p)
	if !path.IsAbs(p) && !strings.Contains(p, "/") && interp == "" && !same {
		return // a command found on PATH
	}
	name, data, why := r.f.readFile(cp)
	if why != "" {
		if strings.HasPrefix(cp, "/usr/") || strings.HasPrefix(cp, "/bin/") || strings.HasPrefix(cp, "/sbin/") || strings.HasPrefix(cp, "/opt/") {
			if interp == "" && !same {
				return // an installed program, not the project's
			}
		}
		r.f.opaque(fmt.Sprintf("%s: %s", via, why))
		return
	}
	head := data
	if len(head) > 8000 {
		head = head[:8000]
	}
	if bytes.HasPrefix(data, []byte("\x7fELF")) || bytes.IndexByte(head, 0) >= 0 {
		r.f.opaque(fmt.Sprintf("%s: %s is a binary, which cachecheck cannot read", via, name))
		return
	}
	if interp == "" && bytes.HasPrefix(data, []byte("#!")) {
		first, _, _ := bytes.Cut(data[2:], []byte("\n"))
		f := strings.Fields(string(first))
		if len(f) > 1 && path.Base(f[0]) == "env" {
			f = f[1:]
			for len(f) > 1 && strings.HasPrefix(f[0], "-") {
				f = f[1:]
			}
		}
		if len(f) > 0 && !shells[path.Base(f[0])] {
			r.f.opaque(fmt.Sprintf("%s: %s is a %s script, which cachecheck does not read", via, name, path.Base(f[0])))
			return
		}
	}
	if !same {
		sh = sh.child()
	}
	r.f.runShell(string(data), name, 0, sh, r.depth+1, false, via)
}

// settingVars are the variables written into a followed go command's text
// so that the build settings can be read from it.
var settingVars = []string{"GOOS", "GOARCH", "GOAMD64", "GOARM", "CGO_ENABLED", "GOEXPERIMENT", "GOFLAGS", "GOMODCACHE", "GOCACHE", "GOPATH", "XDG_CACHE_HOME", "HOME", "GOTOOLCHAIN", "GO111MODULE", "GOPROXY", "GOPRIVATE", "GONOSUMDB", "GONOSUMCHECK", "GOINSECURE"}

// goSubs are the go subcommands recorded, longest first.
var goSubs = []string{"mod download", "mod vendor", "mod tidy", "mod verify", "build", "install", "test", "get", "run", "generate", "vet", "list"}

func (r *shellRun) goCommand(args []string, tmp map[string]string, s *syntax.Stmt, sh *shellState) {
	if r.top {
		return // goCalls finds it on the RUN line
	}
	// Flags before the subcommand are not allowed; "go -C dir build" is.
	joined := strings.Join(args, " ")
	sub := ""
	for _, g := range goSubs {
		if joined == g || strings.HasPrefix(joined, g+" ") {
			sub = g
			break
		}
	}
	if sub == "" {
		return
	}
	rest := args[len(strings.Fields(sub)):]
	env := r.cmdEnv(tmp, sh)
	var text []string
	for _, k := range settingVars {
		if v, ok := env[k]; ok {
			text = append(text, k+"="+shellQuote(v))
		}
	}
	text = append(text, "go", sub)
	var quoted []string
	for _, a := range rest {
		quoted = append(quoted, shellQuote(a))
	}
	text = append(text, quoted...)
	argText := ""
	if len(quoted) > 0 {
		argText = " " + strings.Join(quoted, " ")
	}
	c := goCall{sub: sub, args: argText, from: &behind{
		where: r.at(s),
		via:   r.via,
		text:  strings.Join(text, " "),
		env:   env,
	}}
	if c.from.via == "" {
		c.from.via = "the RUN"
	}
	if strings.Contains(joined, "$(shell") {
		c.from.notes = append(c.from.notes, "$(shell ...) left unexpanded")
	}
	if len(r.f.out.calls) < maxFollowCalls {
		r.f.out.calls = append(r.f.out.calls, c)
	}
}

var downloaderRE = regexp.MustCompile(`\b(curl|wget|fetch)\b`)

var plainWordRE = regexp.MustCompile(`^[\w./=:,+@%^-]+$`)

// shellQuote quotes s for a shell, in single quotes when needed.
func shellQuote(s string) string {
	if plainWordRE.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

func isName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
