package analyzer

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// A minimal reader of GNU Makefiles: enough of make to follow a target's
// prerequisites and recipe lines to the go commands they run. It reads
// rules (explicit, pattern and static pattern, with ; recipes),
// recipes, include and -include, the assignments =, :=, ::=, ?=, += and
// != (left unexpanded), define, export and unexport, override,
// target-specific variables, conditionals, automatic variables and the
// text functions. $(shell ...), $(wildcard ...) and $(eval ...) are not
// run: they are left as written, and said so.
//
// No well-kept Go package reads Makefiles this way: the parsers that exist
// keep syntax for linting or printing, not the values make would use.

// Limits on reading Makefiles, on top of those of follow.go. Expanding
// variables can grow exponentially (A = $(B)$(B), B = $(C)$(C), ...): the
// work of one make invocation is bounded as a whole.
const (
	// maxMakeIncludeDepth bounds the nesting of include directives.
	maxMakeIncludeDepth = 16
	// maxMakeExpandDepth bounds the nesting of variable references
	// being expanded.
	maxMakeExpandDepth = 64
	// maxMakeLines bounds the lines read by one make invocation, over
	// all its files.
	maxMakeLines = 200000
	// maxMakeWork bounds the work of expanding Makefile variables for
	// a whole Dockerfile: each reference counts one, each byte produced
	// one.
	maxMakeWork = 2 << 20
)

// makeVar is a make variable.
type makeVar struct {
	value    string
	simple   bool // := (value already expanded)
	origin   int
	export   int8 // 1 export, -1 unexport, 0 as make decides
	fromEnv  bool // first defined by the environment, so exported
	override bool
}

const (
	originDefault = iota
	originEnv
	originFile
	originCmdline
	originAuto
)

type makeLine struct {
	text string
	file string // context path
	line int
}

type makeRule struct {
	stem    string // of a static pattern rule
	prereqs []string
	recipe  []makeLine
	defined bool // the current definition has given a recipe
}

type patternRule struct {
	target string
	rule   *makeRule
}

// targetVar is a target-specific assignment: "build: GOFLAGS += -v".
type targetVar struct {
	name, op, value string
	export          int8
	override        bool
}

// makeDB is one make invocation: the Makefiles read and their rules.
type makeDB struct {
	f         *follower
	depth     int // of make and script invocations
	cwd       string
	via       string
	vars      map[string]*makeVar
	rules     map[string]*makeRule
	patterns  []*patternRule
	tvars     map[string][]targetVar
	first     string
	exportAll bool
	oneShell  bool
	work      *int64 // the Build's budget, see maxMakeWork
	lines     int
	expanding map[string]bool
	reading   []string // files being read, for include cycles
	visited   map[string]bool
	notes     []string
	baseEnv   map[string]string // the environment of recipes without target-specific variables
}

// expCtx is what an expansion sees besides the variables: automatic
// variables and target-specific ones.
type expCtx struct {
	auto    map[string]string
	overlay map[string]*makeVar
	depth   int
}

func (m *makeDB) note(s string) {
	if !slices.Contains(m.notes, s) && len(m.notes) < 8 {
		m.notes = append(m.notes, s)
		m.f.opaque(m.via + ": " + s)
	}
}

// runMake follows "make ARGS" run in container directory cwd with env.
func (f *follower) runMake(args []string, env map[string]string, cwd string, depth int, via string) {
	if depth > maxFollowDepth {
		f.opaque(fmt.Sprintf("%s not read: make and scripts nested more than %d deep", via, maxFollowDepth))
		return
	}
	if !f.step() {
		return
	}
	var files, goals []string
	var cmdVars []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		// val reads the value of an option: "-C dir", "-Cdir", "--directory=dir".
		val := func(short, long string) (string, bool) {
			switch {
			case a == short || a == long:
				if i+1 < len(args) {
					i++
					return args[i], true
				}
				return "", false
			case strings.HasPrefix(a, long+"="):
				return a[len(long)+1:], true
			case strings.HasPrefix(a, short) && !strings.HasPrefix(a, "--"):
				return a[len(short):], true
			}
			return "", false
		}
		if v, ok := val("-C", "--directory"); ok {
			cwd = absPath(cwd, v)
			continue
		}
		if v, ok := val("-f", "--file"); ok {
			files = append(files, absPath(cwd, v))
			continue
		}
		if v, ok := val("-f", "--makefile"); ok {
			files = append(files, absPath(cwd, v))
			continue
		}
		switch {
		case a == "-I" || a == "-o" || a == "-W" || a == "--include-dir" || a == "--old-file" || a == "--what-if":
			i++
		case a == "-j" || a == "-l" || a == "--jobs" || a == "--load-average":
			if i+1 < len(args) {
				if _, err := strconv.Atoi(args[i+1]); err == nil {
					i++
				}
			}
		case strings.HasPrefix(a, "-"):
		case strings.Contains(a, "=") && isMakeName(strings.TrimRight(a[:strings.Index(a, "=")], ":+?!")):
			cmdVars = append(cmdVars, a)
		default:
			goals = append(goals, a)
		}
	}
	m := &makeDB{f: f, cwd: cwd, via: via, depth: depth, vars: map[string]*makeVar{}, rules: map[string]*makeRule{},
		tvars: map[string][]targetVar{}, work: f.b.makeWork(), expanding: map[string]bool{}, visited: map[string]bool{}}
	for k, v := range env {
		m.vars[k] = &makeVar{value: v, simple: true, origin: originEnv, fromEnv: true}
	}
	m.vars["MAKE"] = &makeVar{value: "make", simple: true}
	m.vars["CURDIR"] = &makeVar{value: cwd, simple: true}
	m.vars["SHELL"] = &makeVar{value: "/bin/sh", simple: true}
	for _, a := range cmdVars {
		name, op, value, _ := splitAssign(a)
		m.assign(name, op, value, originCmdline, 0, false, nil)
	}
	if len(files) == 0 {
		var why string
		for _, n := range []string{"GNUmakefile", "makefile", "Makefile"} {
			p := path.Join(cwd, n)
			if f.exists(p) {
				files = []string{p}
				break
			}
			if n == "Makefile" {
				_, why = f.layout.contextPath(f.b, f.upto, p)
				if f.b.Context == nil {
					why = "the build context is not available"
				}
			}
		}
		if len(files) == 0 {
			f.opaque(fmt.Sprintf("%s: there is no Makefile in %s: %s", via, cwd, why))
			return
		}
	}
	for _, p := range files {
		name, data, why := f.readFile(p)
		if why != "" {
			f.opaque(fmt.Sprintf("%s: %s", via, why))
			return
		}
		m.parse(name, data, 0)
	}
	if len(goals) == 0 {
		if g := strings.TrimSpace(m.expand("$(.DEFAULT_GOAL)", nil)); g != "" {
			goals = strings.Fields(g)[:1]
		} else if m.first != "" {
			goals = []string{m.first}
		} else {
			f.opaque(fmt.Sprintf("%s: the Makefile has no target", via))
			return
		}
	}
	for _, g := range goals {
		m.build(g, nil, 0, true)
	}
}

// cond is one open conditional.
type cond struct {
	active bool // its current branch is taken
	done   bool // a branch was taken
	outer  bool // the enclosing text is active
}

// parse reads a Makefile's text. name is its context path.
func (m *makeDB) parse(name string, data []byte, depth int) {
	if slices.Contains(m.reading, name) {
		m.note(fmt.Sprintf("%s includes itself: include cycle not followed", name))
		return
	}
	m.reading = append(m.reading, name)
	defer func() { m.reading = m.reading[:len(m.reading)-1] }()
	m.vars["MAKEFILE_LIST"] = &makeVar{value: strings.TrimSpace(m.vars["MAKEFILE_LIST"].get() + " " + name), simple: true}
	lines := strings.Split(string(data), "\n")
	var conds []cond
	active := func() bool { return len(conds) == 0 || conds[len(conds)-1].active }
	var cur []*makeRule // the rules that recipe lines go to
	var define *struct {
		name, op string
		body     []string
		export   int8
		override bool
		nest     int
	}
	for i := 0; i < len(lines); i++ {
		m.lines++
		if m.lines > maxMakeLines {
			m.note(fmt.Sprintf("not read to the end: more than %d lines", maxMakeLines))
			return
		}
		raw := strings.TrimSuffix(lines[i], "\r")
		lineNo := i + 1
		if define != nil {
			w, _ := firstWord(strings.TrimSpace(raw))
			switch w {
			case "define":
				define.nest++
			case "endef":
				if define.nest == 0 {
					if active() {
						m.assign(define.name, define.op, strings.Join(define.body, "\n"), originFile, define.export, define.override, nil)
					}
					define = nil
					continue
				}
				define.nest--
			}
			define.body = append(define.body, raw)
			continue
		}
		if strings.HasPrefix(raw, "\t") && len(cur) > 0 {
			text := raw[1:]
			for oddBackslash(text) && i+1 < len(lines) {
				i++
				m.lines++
				text += "\n" + strings.TrimPrefix(strings.TrimSuffix(lines[i], "\r"), "\t")
			}
			if active() {
				m.addRecipe(cur, makeLine{text: text, file: name, line: lineNo})
			}
			continue
		}
		text := raw
		for oddBackslash(text) && i+1 < len(lines) {
			i++
			m.lines++
			text = strings.TrimRight(text[:len(text)-1], " \t") + " " + strings.TrimLeft(strings.TrimSuffix(lines[i], "\r"), " \t")
		}
		t := strings.TrimSpace(stripMakeComment(text))
		if t == "" {
			continue
		}
		word, rest := firstWord(t)
		switch word {
		case "ifeq", "ifneq", "ifdef", "ifndef":
			outer := active()
			c := cond{outer: outer}
			if outer {
				c.active = m.condition(word, rest)
				c.done = c.active
			}
			conds = append(conds, c)
			continue
		case "else":
			if len(conds) == 0 {
				continue
			}
			c := &conds[len(conds)-1]
			w2, r2 := firstWord(rest)
			switch {
			case !c.outer || c.done:
				c.active = false
			case w2 == "ifeq" || w2 == "ifneq" || w2 == "ifdef" || w2 == "ifndef":
				c.active = m.condition(w2, r2)
				c.done = c.active
			default:
				c.active, c.done = true, true
			}
			continue
		case "endif":
			if len(conds) > 0 {
				conds = conds[:len(conds)-1]
			}
			continue
		}
		if !active() {
			continue
		}
		cur = nil
		var export int8
		override := false
		for {
			switch word {
			case "export":
				export = 1
			case "unexport":
				export = -1
			case "override":
				override = true
			case "private":
			default:
				goto directive
			}
			t = rest
			word, rest = firstWord(t)
		}
	directive:
		switch word {
		case "define":
			n, op := rest, "="
			for _, o := range []string{":::=", "::=", ":=", "?=", "+=", "!=", "="} {
				if j := strings.Index(rest, o); j >= 0 {
					n, op = rest[:j], o
					break
				}
			}
			define = &struct {
				name, op string
				body     []string
				export   int8
				override bool
				nest     int
			}{name: strings.TrimSpace(n), op: op, export: export, override: override}
			continue
		case "include", "-include", "sinclude":
			m.include(word != "include", rest, depth)
			continue
		case "undefine":
			delete(m.vars, strings.TrimSpace(m.expand(rest, nil)))
			continue
		case "vpath":
			continue
		}
		if t == "" {
			if export == 1 {
				m.exportAll = true
			}
			continue
		}
		if vn, op, value, ok := splitAssign(t); ok {
			m.assign(vn, op, value, originFile, export, override, nil)
			continue
		}
		if export != 0 {
			// export NAME...: no assignment.
			for _, n := range strings.Fields(m.expand(t, nil)) {
				v := m.vars[n]
				if v == nil {
					v = &makeVar{origin: originFile}
					m.vars[n] = v
				}
				v.export = export
			}
			continue
		}
		if r := m.ruleLine(t, name, lineNo); r != nil {
			cur = r
			continue
		}
		// A line of functions only ($(info ...), $(eval ...)).
		if strings.Contains(t, "$(eval") || strings.Contains(t, "${eval") {
			m.note(fmt.Sprintf("%s:%d: $(eval ...) not run", name, lineNo))
		}
	}
}

func (v *makeVar) get() string {
	if v == nil {
		return ""
	}
	return v.value
}

// include reads the files of an include directive, relative to make's
// directory as make does.
func (m *makeDB) include(optional bool, rest string, depth int) {
	if depth >= maxMakeIncludeDepth {
		m.note(fmt.Sprintf("includes nested more than %d deep not read", maxMakeIncludeDepth))
		return
	}
	for _, n := range strings.Fields(m.expand(rest, nil)) {
		if strings.ContainsAny(n, "*?[") || strings.Contains(n, "$(") {
			if !optional {
				m.note(fmt.Sprintf("include %s: a pattern or $(shell ...) is not expanded", n))
			}
			continue
		}
		name, data, why := m.f.readFile(absPath(m.cwd, n))
		if why != "" {
			if !optional {
				m.note("include " + n + ": " + why)
			}
			continue
		}
		m.parse(name, data, depth+1)
	}
}

// condition evaluates ifeq, ifneq, ifdef or ifndef.
func (m *makeDB) condition(kind, rest string) bool {
	switch kind {
	case "ifdef", "ifndef":
		n := strings.TrimSpace(m.expand(rest, nil))
		v := m.vars[n]
		def := v != nil && v.value != ""
		return def == (kind == "ifdef")
	}
	a, b, ok := condArgs(rest)
	if !ok {
		return false
	}
	eq := m.expand(a, nil) == m.expand(b, nil)
	return eq == (kind == "ifeq")
}

// condArgs splits "(a,b)", "'a' 'b'" or "\"a\" \"b\"".
func condArgs(s string) (a, b string, ok bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		parts := splitArgs(s[1:len(s)-1], 2)
		if len(parts) != 2 {
			return "", "", false
		}
		return strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), true
	}
	var out []string
	for len(s) > 0 && len(out) < 2 {
		q := s[0]
		if q != '"' && q != '\'' {
			return "", "", false
		}
		j := strings.IndexByte(s[1:], q)
		if j < 0 {
			return "", "", false
		}
		out = append(out, s[1:1+j])
		s = strings.TrimSpace(s[j+2:])
	}
	if len(out) != 2 {
		return "", "", false
	}
	return out[0], out[1], true
}

// assign applies an assignment to the variables, or to overlay when it is
// not nil (a target-specific variable).
func (m *makeDB) assign(name, op, value string, origin int, export int8, override bool, x *expCtx) {
	name = strings.TrimSpace(m.expand(name, x))
	if name == "" {
		return
	}
	vars := m.vars
	if x != nil && x.overlay != nil {
		vars = x.overlay
	}
	old := vars[name]
	if old == nil && x != nil && x.overlay != nil {
		old = m.vars[name]
	}
	if old != nil && (old.origin == originCmdline || old.override) && origin == originFile && !override {
		if export != 0 {
			old.export = export
		}
		return
	}
	nv := &makeVar{origin: origin, export: export, override: override}
	if old != nil {
		nv.fromEnv = old.fromEnv
		if export == 0 {
			nv.export = old.export
		}
	}
	switch op {
	case "?=":
		if old != nil && old.origin != originDefault {
			if export != 0 {
				c := *old
				c.export = export
				vars[name] = &c
			}
			return
		}
		nv.value = value
	case ":=", "::=", ":::=":
		nv.value, nv.simple = m.expand(value, x), true
	case "+=":
		switch {
		case old == nil:
			nv.value = value
		case old.simple:
			nv.value, nv.simple = joinSpace(old.value, m.expand(value, x)), true
		default:
			nv.value = joinSpace(old.value, value)
		}
		if old != nil && origin == originFile && old.origin == originEnv {
			nv.origin = originFile
		}
	case "!=":
		nv.value, nv.simple = "$(shell "+value+")", true
		m.note(fmt.Sprintf("%s != ... is a shell command, left unexpanded", name))
	default:
		nv.value = value
	}
	vars[name] = nv
}

func joinSpace(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + " " + b
}

// splitAssign splits "NAME op VALUE" for the assignment operators, or
// reports false (a rule, or something else).
func splitAssign(t string) (name, op, value string, ok bool) {
	i, op := findMakeOp(t)
	if i < 0 || op == ":" {
		return "", "", "", false
	}
	name = strings.TrimSpace(t[:i])
	if name == "" || strings.ContainsAny(name, " \t") && !strings.Contains(name, "$") {
		return "", "", "", false
	}
	return name, op, strings.TrimLeft(t[i+len(op):], " \t"), true
}

// findMakeOp finds the first ':' or assignment operator outside variable
// references.
func findMakeOp(t string) (int, string) {
	depth := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '$' && i+1 < len(t) && (t[i+1] == '(' || t[i+1] == '{'):
			depth++
			i++
		case c == '$' && i+1 < len(t):
			i++
		case (c == ')' || c == '}') && depth > 0:
			depth--
		case depth > 0:
		case c == '=':
			if i > 0 && strings.IndexByte("?+!", t[i-1]) >= 0 {
				return i - 1, t[i-1 : i+1]
			}
			return i, "="
		case c == ':':
			for _, op := range []string{":::=", "::=", ":="} {
				if strings.HasPrefix(t[i:], op) {
					return i, op
				}
			}
			return i, ":"
		case c == ';':
			return -1, ""
		}
	}
	return -1, ""
}

// ruleLine reads a rule's first line; it returns the rules that its recipe
// lines go to, or nil when t is not a rule.
func (m *makeDB) ruleLine(t, file string, line int) []*makeRule {
	i, op := findMakeOp(t)
	if i < 0 || op != ":" {
		return nil
	}
	targets := strings.Fields(m.expand(t[:i], nil))
	rest := t[i+1:]
	rest = strings.TrimPrefix(rest, ":") // a double-colon rule
	recipe := ""
	hasRecipe := false
	if j := indexTop(rest, ';'); j >= 0 {
		recipe, rest, hasRecipe = strings.TrimLeft(rest[j+1:], " \t"), rest[:j], true
	}
	// Target-specific variables: "build: export CGO_ENABLED = 0".
	rw, rr := firstWord(strings.TrimSpace(rest))
	var export int8
	override := false
	for rw == "export" || rw == "override" || rw == "private" || rw == "unexport" {
		switch rw {
		case "export":
			export = 1
		case "unexport":
			export = -1
		case "override":
			override = true
		}
		rw, rr = firstWord(rr)
	}
	if n, op, v, ok := splitAssign(strings.TrimSpace(joinSpace(rw, rr))); ok {
		for _, tg := range targets {
			m.tvars[tg] = append(m.tvars[tg], targetVar{name: n, op: op, value: v, export: export, override: override})
		}
		return []*makeRule{} // a recipe line after it would start a rule: make rejects it
	}
	staticPat := ""
	if j, op := findMakeOp(rest); j >= 0 && op == ":" {
		staticPat, rest = strings.TrimSpace(m.expand(rest[:j], nil)), rest[j+1:]
	}
	prereqs := slices.DeleteFunc(strings.Fields(m.expand(rest, nil)), func(s string) bool { return s == "|" })
	var out []*makeRule
	for _, tg := range targets {
		switch tg {
		case ".ONESHELL":
			m.oneShell = true
		case ".EXPORT_ALL_VARIABLES":
			m.exportAll = true
		}
		pre, stem := prereqs, ""
		if staticPat != "" {
			var ok bool
			if stem, ok = matchPattern(staticPat, tg); !ok {
				continue
			}
			pre = substPattern(prereqs, stem)
		} else if strings.Contains(tg, "%") {
			r := &makeRule{prereqs: prereqs}
			m.patterns = append(m.patterns, &patternRule{target: tg, rule: r})
			out = append(out, r)
			continue
		}
		if m.first == "" && !(strings.HasPrefix(tg, ".") && !strings.Contains(tg, "/")) {
			m.first = tg
		}
		r := m.rules[tg]
		if r == nil {
			r = &makeRule{}
			m.rules[tg] = r
		}
		r.prereqs = append(r.prereqs, pre...)
		r.defined = false
		if stem != "" {
			r.stem = stem
		}
		out = append(out, r)
	}
	if hasRecipe && recipe != "" {
		m.addRecipe(out, makeLine{text: recipe, file: file, line: line})
	}
	return out
}

// addRecipe adds a recipe line to rules. A rule's later definition with a
// recipe replaces the earlier recipe, as in make.
func (m *makeDB) addRecipe(rules []*makeRule, l makeLine) {
	for _, r := range rules {
		if !r.defined {
			r.recipe, r.defined = nil, true
		}
		r.recipe = append(r.recipe, l)
	}
}

// build follows target t: its prerequisites, then its recipe lines.
func (m *makeDB) build(t string, overlay map[string]*makeVar, depth int, goal bool) {
	if m.visited[t] || !m.f.step() {
		return
	}
	m.visited[t] = true
	if depth > 4*maxMakeExpandDepth {
		m.note(fmt.Sprintf("prerequisites nested more than %d deep not followed", 4*maxMakeExpandDepth))
		return
	}
	var prereqs []string
	var recipe []makeLine
	stem := ""
	r := m.rules[t]
	if r != nil {
		prereqs, recipe, stem = r.prereqs, r.recipe, r.stem
	}
	if r == nil || len(r.recipe) == 0 {
		for _, p := range m.patterns {
			if s, ok := matchPattern(p.target, t); ok && len(p.rule.recipe) > 0 {
				stem = s
				prereqs = append(slices.Clone(prereqs), substPattern(p.rule.prereqs, s)...)
				recipe = p.rule.recipe
				break
			}
		}
	}
	if r == nil && recipe == nil {
		if goal && !m.f.exists(absPath(m.cwd, t)) {
			m.f.opaque(fmt.Sprintf("%s: the Makefile has no rule for %s", m.via, t))
		}
		return
	}
	if tv := m.tvars[t]; len(tv) > 0 {
		next := map[string]*makeVar{}
		for k, v := range overlay {
			next[k] = v
		}
		x := &expCtx{overlay: next}
		for _, a := range tv {
			m.assign(a.name, a.op, a.value, originFile, a.export, a.override, x)
		}
		overlay = next
	}
	for _, p := range prereqs {
		m.build(p, overlay, depth+1, false)
	}
	if len(recipe) == 0 {
		return
	}
	first := ""
	if len(prereqs) > 0 {
		first = prereqs[0]
	}
	all := strings.Join(prereqs, " ")
	x := &expCtx{overlay: overlay, auto: map[string]string{"@": t, "<": first, "^": strings.Join(uniq(prereqs), " "), "+": all, "?": all, "*": stem}}
	var env map[string]string
	if len(overlay) == 0 {
		if m.baseEnv == nil {
			m.baseEnv = m.exports(x)
		}
		env = m.baseEnv
	} else {
		env = m.exports(x)
	}
	run := func(text string, l makeLine) {
		text = strings.TrimLeft(text, " \t@-+")
		m.f.runShell(text, l.file, l.line-1, newShellState(env, m.cwd), m.depth, false, m.via)
	}
	if m.oneShell {
		var lines []string
		for _, l := range recipe {
			lines = append(lines, strings.TrimLeft(m.expand(l.text, x), " \t@-+"))
		}
		run(strings.Join(lines, "\n"), recipe[0])
		return
	}
	for _, l := range recipe {
		if !m.f.step() {
			return
		}
		run(m.expand(l.text, x), l)
	}
}

func uniq(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range s {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// exports returns the environment of recipe lines: the variables make
// exports, with known values.
func (m *makeDB) exports(x *expCtx) map[string]string {
	env := map[string]string{}
	add := func(name string, v *makeVar) {
		if !isName(name) {
			return
		}
		if v.export == 1 || v.export == 0 && (v.fromEnv || v.origin == originCmdline || m.exportAll) {
			val := v.value
			if !v.simple {
				val = m.lookup(name, x)
			}
			if !strings.Contains(val, "$(") && !strings.Contains(val, "`") {
				env[name] = val
				return
			}
		}
		delete(env, name)
	}
	for _, name := range sortedKeys(m.vars) {
		if _, ok := x.overlay[name]; !ok {
			add(name, m.vars[name])
		}
	}
	for _, name := range sortedKeys(x.overlay) {
		add(name, x.overlay[name])
	}
	return env
}

func sortedKeys(m map[string]*makeVar) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// spend counts n units of expansion work; false once over the bound.
func (m *makeDB) spend(n int) bool {
	*m.work -= int64(n)
	if *m.work < 0 {
		if *m.work+int64(n) >= 0 {
			m.note(overWork)
		}
		return false
	}
	return true
}

var overWork = fmt.Sprintf("variables not expanded further: their expansion takes more than %d steps (a variable that refers to others many times grows exponentially)", maxMakeWork)

var overDepth = fmt.Sprintf("variable references nested more than %d deep not expanded", maxMakeExpandDepth)

// expand expands the variable references and functions of s.
func (m *makeDB) expand(s string, x *expCtx) string {
	if !strings.Contains(s, "$") {
		return s
	}
	if x == nil {
		x = &expCtx{}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if !m.spend(1) {
			return b.String()
		}
		n := s[i+1]
		var v string
		switch n {
		case '$':
			v = "$"
			i++
		case '(', '{':
			j := matchParen(s, i+1)
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			v = m.ref(s[i+2:j], n, x)
			i = j
		default:
			v = m.lookup(string(n), x)
			i++
		}
		if !m.spend(len(v)) || b.Len()+len(v) > maxWordExpansion {
			return b.String()
		}
		b.WriteString(v)
	}
	return b.String()
}

// matchParen returns the index of the parenthesis closing s[open].
func matchParen(s string, open int) int {
	o := s[open]
	c := byte(')')
	if o == '{' {
		c = '}'
	}
	depth := 0
	for j := open; j < len(s); j++ {
		switch s[j] {
		case o:
			depth++
		case c:
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// unexpanded are the functions that are not run: their reference is kept
// as written.
var unexpanded = map[string]bool{"shell": true, "wildcard": true, "realpath": true, "eval": true, "file": true, "guile": true, "let": true, "intcmp": true}

var makeFuncs = map[string]bool{"subst": true, "patsubst": true, "strip": true, "findstring": true, "filter": true,
	"filter-out": true, "sort": true, "word": true, "words": true, "wordlist": true, "firstword": true, "lastword": true,
	"dir": true, "notdir": true, "suffix": true, "basename": true, "addsuffix": true, "addprefix": true, "join": true,
	"if": true, "or": true, "and": true, "foreach": true, "call": true, "value": true, "origin": true, "flavor": true,
	"error": true, "warning": true, "info": true, "abspath": true}

// ref expands the inside of $(...) or ${...}.
func (m *makeDB) ref(inner string, open byte, x *expCtx) string {
	if x.depth >= maxMakeExpandDepth {
		m.spend(1)
		m.note(overDepth)
		return ""
	}
	fn, args := firstWordFunc(inner)
	closeCh := ")"
	if open == '{' {
		closeCh = "}"
	}
	switch {
	case unexpanded[fn]:
		if fn == "eval" {
			m.note("$(eval ...) not run")
			return ""
		}
		if fn == "shell" {
			// Not run, but make would run it here: does it read .git?
			m.f.shellGit(m.expand(args, x), m.cwd, m.via)
		}
		return "$" + string(open) + inner + closeCh
	case makeFuncs[fn]:
		y := *x
		y.depth++
		return m.function(fn, args, &y)
	}
	// A variable, maybe with a substitution: $(VAR:.go=.o).
	y := *x
	name, subst := inner, ""
	hasSubst := false
	if k := indexTop(inner, ':'); k >= 0 {
		name, subst, hasSubst = inner[:k], inner[k+1:], true
	}
	name = m.expand(name, &y)
	v := m.lookup(name, &y)
	if hasSubst {
		if from, to, ok := strings.Cut(m.expand(subst, &y), "="); ok {
			if !strings.Contains(from, "%") {
				from, to = "%"+from, "%"+to
			}
			v = strings.Join(substWords(from, to, strings.Fields(v)), " ")
		}
	}
	return v
}

// lookup returns the value of a variable, expanded.
func (m *makeDB) lookup(name string, x *expCtx) string {
	if x != nil && x.auto != nil {
		if v, ok := x.auto[name]; ok {
			return v
		}
		if len(name) == 2 && (name[1] == 'D' || name[1] == 'F') {
			if v, ok := x.auto[name[:1]]; ok {
				var out []string
				for _, w := range strings.Fields(v) {
					if name[1] == 'D' {
						out = append(out, path.Dir(w))
					} else {
						out = append(out, path.Base(w))
					}
				}
				return strings.Join(out, " ")
			}
		}
	}
	var v *makeVar
	if x != nil {
		v = x.overlay[name]
	}
	if v == nil {
		v = m.vars[name]
	}
	if v == nil {
		return ""
	}
	if v.simple {
		return v.value
	}
	if m.expanding[name] {
		m.note(fmt.Sprintf("variable %s refers to itself, which make rejects", name))
		return ""
	}
	if x == nil {
		x = &expCtx{}
	}
	if x.depth >= maxMakeExpandDepth {
		m.spend(1)
		m.note(overDepth)
		return ""
	}
	m.expanding[name] = true
	y := *x
	y.depth++
	out := m.expand(v.value, &y)
	delete(m.expanding, name)
	return out
}

// function runs a text function.
func (m *makeDB) function(fn, argText string, x *expCtx) string {
	nmax := map[string]int{"subst": 3, "patsubst": 3, "findstring": 2, "filter": 2, "filter-out": 2, "word": 2,
		"wordlist": 3, "addsuffix": 2, "addprefix": 2, "join": 2, "if": 3, "foreach": 3}[fn]
	raw := splitArgs(argText, nmax)
	arg := func(i int) string {
		if i >= len(raw) {
			return ""
		}
		return m.expand(raw[i], x)
	}
	words := func(i int) []string { return strings.Fields(arg(i)) }
	mapWords := func(f func(string) string) string {
		var out []string
		for _, w := range words(0) {
			out = append(out, f(w))
		}
		return strings.Join(out, " ")
	}
	switch fn {
	case "subst":
		from := arg(0)
		if from == "" {
			return arg(2)
		}
		return strings.ReplaceAll(arg(2), from, arg(1))
	case "patsubst":
		return strings.Join(substWords(arg(0), arg(1), words(2)), " ")
	case "strip":
		return strings.Join(words(0), " ")
	case "findstring":
		if strings.Contains(arg(1), arg(0)) {
			return arg(0)
		}
		return ""
	case "filter", "filter-out":
		pats := words(0)
		var out []string
		for _, w := range words(1) {
			match := slices.ContainsFunc(pats, func(p string) bool { _, ok := matchPattern(p, w); return ok })
			if match == (fn == "filter") {
				out = append(out, w)
			}
		}
		return strings.Join(out, " ")
	case "sort":
		w := words(0)
		slices.Sort(w)
		return strings.Join(slices.Compact(w), " ")
	case "word":
		n, _ := strconv.Atoi(strings.TrimSpace(arg(0)))
		if w := words(1); n >= 1 && n <= len(w) {
			return w[n-1]
		}
		return ""
	case "words":
		return strconv.Itoa(len(words(0)))
	case "wordlist":
		s, _ := strconv.Atoi(strings.TrimSpace(arg(0)))
		e, _ := strconv.Atoi(strings.TrimSpace(arg(1)))
		w := words(2)
		if s < 1 || s > len(w) || e < s {
			return ""
		}
		return strings.Join(w[s-1:min(e, len(w))], " ")
	case "firstword", "lastword":
		w := words(0)
		if len(w) == 0 {
			return ""
		}
		if fn == "firstword" {
			return w[0]
		}
		return w[len(w)-1]
	case "dir":
		return mapWords(func(w string) string { return path.Dir(w) + "/" })
	case "notdir":
		return mapWords(path.Base)
	case "suffix":
		return mapWords(path.Ext)
	case "basename":
		return mapWords(func(w string) string { return strings.TrimSuffix(w, path.Ext(w)) })
	case "abspath":
		return mapWords(func(w string) string { return absPath(m.cwd, w) })
	case "addsuffix", "addprefix":
		a := arg(0)
		var out []string
		for _, w := range words(1) {
			if fn == "addsuffix" {
				out = append(out, w+a)
			} else {
				out = append(out, a+w)
			}
		}
		return strings.Join(out, " ")
	case "join":
		a, b := words(0), words(1)
		var out []string
		for i := range max(len(a), len(b)) {
			s := ""
			if i < len(a) {
				s = a[i]
			}
			if i < len(b) {
				s += b[i]
			}
			out = append(out, s)
		}
		return strings.Join(out, " ")
	case "if":
		if strings.TrimSpace(arg(0)) != "" {
			return arg(1)
		}
		return arg(2)
	case "or":
		for i := range raw {
			if v := arg(i); strings.TrimSpace(v) != "" {
				return v
			}
		}
		return ""
	case "and":
		v := ""
		for i := range raw {
			if v = arg(i); strings.TrimSpace(v) == "" {
				return ""
			}
		}
		return v
	case "foreach":
		name := strings.TrimSpace(arg(0))
		var out []string
		for _, w := range words(1) {
			if *m.work < 0 {
				break
			}
			y := *x
			y.overlay = withVar(x.overlay, name, w)
			out = append(out, m.expand(rawArg(raw, 2), &y))
		}
		return strings.Join(out, " ")
	case "call":
		name := strings.TrimSpace(arg(0))
		y := *x
		y.overlay = withVar(x.overlay, "0", name)
		for i := 1; i < len(raw) && i < 64; i++ {
			y.overlay[strconv.Itoa(i)] = &makeVar{value: arg(i), simple: true, origin: originAuto}
		}
		v := m.vars[name]
		if ov := x.overlay[name]; ov != nil {
			v = ov
		}
		if v == nil {
			return ""
		}
		if v.simple {
			return v.value
		}
		if m.expanding["call "+name] && y.depth > 8 {
			m.note(fmt.Sprintf("$(call %s) recurses", name))
			return ""
		}
		m.expanding["call "+name] = true
		out := m.expand(v.value, &y)
		delete(m.expanding, "call "+name)
		return out
	case "value":
		return m.vars[strings.TrimSpace(arg(0))].get()
	case "origin":
		v := m.vars[strings.TrimSpace(arg(0))]
		if v == nil {
			return "undefined"
		}
		return [...]string{"default", "environment", "file", "command line", "automatic"}[v.origin]
	case "flavor":
		v := m.vars[strings.TrimSpace(arg(0))]
		switch {
		case v == nil:
			return "undefined"
		case v.simple:
			return "simple"
		}
		return "recursive"
	}
	return "" // error, warning, info
}

func rawArg(raw []string, i int) string {
	if i < len(raw) {
		return raw[i]
	}
	return ""
}

// withVar returns a copy of overlay with a simple variable set.
func withVar(overlay map[string]*makeVar, name, value string) map[string]*makeVar {
	out := make(map[string]*makeVar, len(overlay)+1)
	for k, v := range overlay {
		out[k] = v
	}
	out[name] = &makeVar{value: value, simple: true, origin: originAuto}
	return out
}

// splitArgs splits function arguments at commas outside parentheses; the
// last of max arguments keeps its commas (max 0: no limit).
func splitArgs(s string, max int) []string {
	var out []string
	depth := 0
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '{':
			depth++
		case ')', '}':
			depth--
		case ',':
			if depth == 0 && (max == 0 || len(out) < max-1) {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// indexTop returns the index of the first c outside variable references.
func indexTop(s string, c byte) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && (s[i+1] == '(' || s[i+1] == '{'):
			depth++
			i++
		case (s[i] == ')' || s[i] == '}') && depth > 0:
			depth--
		case s[i] == c && depth == 0:
			return i
		}
	}
	return -1
}

// matchPattern matches word against a pattern with one %; it returns the
// stem.
func matchPattern(pat, word string) (string, bool) {
	pre, suf, ok := strings.Cut(pat, "%")
	if !ok {
		return "", pat == word
	}
	if len(word) < len(pre)+len(suf) || !strings.HasPrefix(word, pre) || !strings.HasSuffix(word, suf) {
		return "", false
	}
	return word[len(pre) : len(word)-len(suf)], true
}

func substPattern(words []string, stem string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = strings.Replace(w, "%", stem, 1)
	}
	return out
}

// substWords is patsubst.
func substWords(from, to string, words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if stem, ok := matchPattern(from, w); ok {
			out[i] = strings.Replace(to, "%", stem, 1)
		} else {
			out[i] = w
		}
	}
	return out
}

// firstWord splits t at its first blank.
func firstWord(t string) (string, string) {
	i := strings.IndexAny(t, " \t")
	if i < 0 {
		return t, ""
	}
	return t[:i], strings.TrimLeft(t[i:], " \t")
}

// firstWordFunc splits a reference into a function name and its
// arguments, or returns "" when it is not a function call.
func firstWordFunc(inner string) (string, string) {
	i := strings.IndexAny(inner, " \t")
	if i <= 0 {
		return "", inner
	}
	return inner[:i], strings.TrimLeft(inner[i:], " \t")
}

// oddBackslash reports whether s ends with an odd number of backslashes: a
// continuation.
func oddBackslash(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// stripMakeComment removes a comment: # to the end, unless escaped.
func stripMakeComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '#' {
			return s[:i]
		}
	}
	return s
}

func isMakeName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t:#=")
}
