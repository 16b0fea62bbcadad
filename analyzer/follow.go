package analyzer

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"mvdan.cc/sh/v3/syntax"
)

// A RUN often builds through make or a script ("RUN make build", "RUN
// ./build.sh"). The analyzer reads the Makefile or script from the build
// context, at the path the stage's COPY instructions put it, and finds the
// go commands it runs, so that the rules apply to them as if they were on
// the RUN line. A step that cannot be read (a file that is not in the build
// context, a binary, a remote script) is recorded with the reason.

// Limits on following a RUN into Makefiles and scripts: the files are a
// pull request's, like the Dockerfile.
const (
	// maxFollowFileSize bounds a Makefile or script read.
	maxFollowFileSize = 1 << 20
	// maxFollowDepth bounds the nesting of make and script invocations
	// (make → script → make ...), and of shell functions.
	maxFollowDepth = 8
	// maxFollowFiles bounds the files read for one RUN.
	maxFollowFiles = 64
	// maxFollowSteps bounds the shell commands and make rules visited for
	// a whole Dockerfile.
	maxFollowSteps = 20000
	// maxFollowBytes bounds the bytes of Makefiles and scripts read for a
	// whole Dockerfile.
	maxFollowBytes = 8 << 20
	// maxFollowedRuns bounds the RUN instructions followed into make or a
	// script in one Dockerfile.
	maxFollowedRuns = 256
	// maxFollowCalls bounds the go commands kept for one RUN.
	maxFollowCalls = 256
)

// behind is where a go command found behind make, a script or sh -c is.
type behind struct {
	// where is the file and line of the go command ("Makefile:12",
	// "scripts/build.sh:5"), or "" when it is in a sh -c string of the RUN.
	where string
	// via is how the RUN reaches it ("make build", "./build.sh").
	via string
	// text is the command as one shell line, prefixed with the build
	// settings of its environment: "CGO_ENABLED=0 go build -o /app .".
	text string
	// env is the environment of the command: the RUN's, with the exports
	// of the Makefile or script and the assignments before the command.
	env map[string]string
	// notes say what was left unexpanded ($(shell ...)).
	notes []string
}

// describe says where a go command behind make or a script is, for a
// finding's message: " (go build at Makefile:12, run by make build)".
func (c goCall) describe() string {
	if c.from == nil {
		return ""
	}
	s := " (go " + c.sub
	switch {
	case c.from.where != "":
		s += " at " + c.from.where + ", run by " + c.from.via
	default:
		s += " in " + c.from.via
	}
	if len(c.from.notes) > 0 {
		s += "; " + strings.Join(c.from.notes, "; ")
	}
	return s + ")"
}

// followed is what following a RUN into make and scripts found.
type followed struct {
	calls []goCall
	// opaque lists the steps that could not be read, each saying what and
	// why: "make build: there is no Makefile at /src (the WORKDIR)".
	opaque []string
	// git says why the Makefiles and scripts read need the .git of the
	// build context, "" when they do not: "git describe at
	// scripts/git-version:4, run by $(shell ./scripts/git-version) in make
	// release-binary".
	git string
}

// followCache holds, per Build, the followed RUNs and the stage layouts.
type followCache struct {
	mu       sync.Mutex
	layouts  map[int]*stageLayout
	runs     map[*Instruction]*followed
	followed int
	work     int64 // left of maxMakeWork
	workSet  bool
	steps    int   // of maxFollowSteps
	bytes    int64 // of maxFollowBytes
	// firstBuild is, per stage index, the index of its first
	// instruction with a go build on the RUN line, or -1.
	firstBuild map[int]int
}

// makeWork returns the Build's budget of Makefile expansion work.
func (b *Build) makeWork() *int64 {
	c := &b.behind
	if !c.workSet {
		c.work, c.workSet = maxMakeWork, true
	}
	return &c.work
}

// runCalls returns the go commands of a RUN: those on its command line and
// those behind the make and script invocations it runs.
func (b *Build) runCalls(st *Stage, in *Instruction) []goCall {
	script := in.Script()
	calls := goCalls(script)
	fw := b.follow(st, in)
	if fw == nil {
		return calls
	}
	for _, c := range fw.calls {
		// A go command of a sh -c string that the RUN line's own scan
		// already found is counted once, as followed: with its
		// environment.
		if c.from.where == "" {
			if i := slices.IndexFunc(calls, func(d goCall) bool { return d.from == nil && d.sub == c.sub }); i >= 0 {
				calls[i] = c
				continue
			}
		}
		calls = append(calls, c)
	}
	return calls
}

// follow follows a RUN into the Makefiles and scripts it runs, once; nil
// when the RUN runs none.
func (b *Build) follow(st *Stage, in *Instruction) *followed {
	if in.Run() == nil || !mayFollow(in.Script()) {
		return nil
	}
	c := &b.behind
	c.mu.Lock()
	defer c.mu.Unlock()
	if fw, ok := c.runs[in]; ok {
		return fw
	}
	if c.runs == nil {
		c.runs = map[*Instruction]*followed{}
	}
	fw := &followed{}
	c.runs[in] = fw
	if c.followed >= maxFollowedRuns {
		fw.opaque = append(fw.opaque, fmt.Sprintf("not read: cachecheck follows make and scripts in the first %d RUN instructions only", maxFollowedRuns))
		return fw
	}
	c.followed++
	env := maps.Clone(in.Args)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, in.Env)
	delete(env, "PWD")
	f := &follower{b: b, layout: b.layout(st), upto: slices.Index(st.Instructions, in), out: fw, read: map[string]bool{}}
	sh := newShellState(env, f.layout.workdirAt(f.upto))
	f.runShell(in.Script(), "", 0, sh, 0, true, "")
	return fw
}

// mayFollow reports whether a RUN's script can run make or a script: it
// names make, a shell, or runs a path.
func mayFollow(script string) bool {
	return followHintRE.MatchString(script)
}

// follower follows one RUN.
type follower struct {
	b      *Build
	layout *stageLayout
	upto   int // the RUN's index in its stage
	out    *followed
	read   map[string]bool // context files read
	shells map[string]bool // $(shell ...) commands looked at for git
	nfiles int
	parser *syntax.Parser
}

// step counts one command or rule visited; false once over the bound.
func (f *follower) step() bool {
	c := &f.b.behind
	if c.steps < maxFollowSteps {
		c.steps++
		return true
	}
	f.opaque(fmt.Sprintf("not read to the end: more than %d commands and rules", maxFollowSteps))
	return false
}

func (f *follower) opaque(why string) {
	if !slices.Contains(f.out.opaque, why) && len(f.out.opaque) < 16 {
		f.out.opaque = append(f.out.opaque, why)
	}
}

// readFile reads the file at container path p from the build context. It
// returns the context path, or a reason why it cannot be read.
func (f *follower) readFile(p string) (name string, data []byte, why string) {
	if f.b.Context == nil {
		return "", nil, fmt.Sprintf("%s cannot be read: the build context is not available", p)
	}
	name, why = f.layout.contextPath(f.b, f.upto, p)
	if why != "" {
		return "", nil, why
	}
	if !f.read[name] {
		if f.nfiles >= maxFollowFiles {
			return "", nil, fmt.Sprintf("%s not read: more than %d files", name, maxFollowFiles)
		}
		f.nfiles++
		f.read[name] = true
	}
	fi, err := fs.Stat(f.b.Context, name)
	if err != nil {
		return "", nil, fmt.Sprintf("%s cannot be read: %v", name, err)
	}
	if fi.Size() > maxFollowFileSize {
		return "", nil, fmt.Sprintf("%s not read: larger than %s", name, byteSize(maxFollowFileSize))
	}
	if c := &f.b.behind; c.bytes+fi.Size() > maxFollowBytes {
		return "", nil, fmt.Sprintf("%s not read: the Makefiles and scripts read for this Dockerfile pass %s", name, byteSize(maxFollowBytes))
	} else {
		c.bytes += fi.Size()
	}
	data, err = fs.ReadFile(f.b.Context, name)
	if err != nil {
		return "", nil, fmt.Sprintf("%s cannot be read: %v", name, err)
	}
	if len(data) > maxFollowFileSize {
		data = data[:maxFollowFileSize]
	}
	return name, data, ""
}

// noteGit records the first use of .git (GitUse) in text, a script or
// recipe line read from file (line lineBase+1 on) and reached by via.
func (f *follower) noteGit(text, file string, lineBase int, via string) {
	if f.out.git != "" {
		return
	}
	why, off := gitUseAt(text)
	if why == "" {
		return
	}
	if file == "" {
		f.out.git = why + " in " + via
		return
	}
	f.out.git = fmt.Sprintf("%s at %s:%d, run by %s", why, file, lineBase+1+strings.Count(text[:off], "\n"), via)
}

// shellGit looks for a use of .git in the command of a Makefile's
// $(shell ...), run from directory cwd, and in the scripts of the context
// it names ($(shell ./scripts/git-version)).
func (f *follower) shellGit(cmd, cwd, via string) {
	if f.out.git != "" || f.shells[cmd] {
		return
	}
	if f.shells == nil {
		f.shells = map[string]bool{}
	}
	f.shells[cmd] = true
	desc := "$(shell " + shortCmd(cmd) + ") in " + via
	if why, _ := gitUseAt(cmd); why != "" {
		f.out.git = fmt.Sprintf("%s in $(shell %s), run by %s", why, shortCmd(cmd), via)
		return
	}
	for _, w := range strings.Fields(cmd) {
		if f.out.git != "" {
			return
		}
		if !strings.Contains(w, "/") || strings.ContainsAny(w, "$'\"") {
			continue
		}
		p := absPath(cwd, w)
		if !f.exists(p) {
			continue
		}
		if name, data, why := f.readFile(p); why == "" {
			f.noteGit(string(data), name, 0, desc)
		}
	}
}

// exists reports whether container path p is a file copied from the
// context.
func (f *follower) exists(p string) bool {
	if f.b.Context == nil {
		return false
	}
	_, why := f.layout.contextPath(f.b, f.upto, p)
	return why == ""
}

// stageLayout is what a stage's COPY and WORKDIR instructions put where,
// including what it inherits from the stage it is built on.
type stageLayout struct {
	base     *stageLayout
	baseWork string
	copies   []copyPlace
	workdirs []string // the WORKDIR before each instruction
}

// copyPlace is one COPY or ADD: where its sources go in the image.
type copyPlace struct {
	idx     int      // the instruction's index in its stage
	line    int      // its line
	srcs    []string // cleaned context sources; nil for --from
	from    string   // --from stage or image
	fromSrc []string // the sources of a --from copy
	dest    string   // absolute, cleaned
	dirDest bool     // the sources go into dest rather than become it
}

func (b *Build) layout(st *Stage) *stageLayout {
	c := &b.behind
	if l, ok := c.layouts[st.Index]; ok {
		return l
	}
	if c.layouts == nil {
		c.layouts = map[int]*stageLayout{}
	}
	l := &stageLayout{baseWork: "/"}
	if name, _ := splitImage(st.Base); name == "golang" || strings.HasSuffix(name, "/golang") {
		l.baseWork = "/go"
	}
	if st.BaseStage >= 0 && st.BaseStage < st.Index {
		l.base = b.layout(b.Stages[st.BaseStage])
		l.baseWork = l.base.workdirAt(len(b.Stages[st.BaseStage].Instructions))
	}
	c.layouts[st.Index] = l
	wd := l.baseWork
	for i, in := range st.Instructions {
		l.workdirs = append(l.workdirs, wd)
		switch x := in.Command.(type) {
		case *instructions.WorkdirCommand:
			wd = absPath(wd, x.Path)
		case *instructions.CopyCommand, *instructions.AddCommand:
			ci, _ := in.Copy()
			if ci.Inline {
				continue
			}
			cp := copyPlace{idx: i, line: in.Line, dest: absPath(wd, ci.Dest), from: ci.From}
			dest := strings.ReplaceAll(ci.Dest, "\\", "/")
			cp.dirDest = strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.") || len(ci.Sources) > 1
			for _, s := range ci.Sources {
				switch {
				case isURL(s):
				case ci.FromContext():
					cp.srcs = append(cp.srcs, CleanSource(s))
					if strings.ContainsAny(s, "*?[") {
						cp.dirDest = true
					}
				default:
					cp.fromSrc = append(cp.fromSrc, s)
				}
			}
			l.copies = append(l.copies, cp)
		}
	}
	l.workdirs = append(l.workdirs, wd)
	return l
}

// workdirAt returns the WORKDIR in effect before instruction i.
func (l *stageLayout) workdirAt(i int) string {
	if i >= 0 && i < len(l.workdirs) {
		return l.workdirs[i]
	}
	if len(l.workdirs) > 0 {
		return l.workdirs[len(l.workdirs)-1]
	}
	return l.baseWork
}

// contextPath maps the container path p, as the image is before
// instruction upto of the stage, back to the build context file that the
// stage's COPY instructions put there. why says why it cannot.
func (l *stageLayout) contextPath(b *Build, upto int, p string) (name, why string) {
	p = path.Clean(p)
	for lay, n := l, upto; lay != nil; lay, n = lay.base, maxBound {
		for i := len(lay.copies) - 1; i >= 0; i-- {
			c := lay.copies[i]
			if c.idx >= n {
				continue
			}
			if c.srcs == nil {
				for _, s := range c.fromSrc {
					if p == c.dest && !c.dirDest || c.dirDest && p == path.Join(c.dest, path.Base(s)) {
						return "", fmt.Sprintf("%s is copied from %s by the COPY at line %d, not from the build context", p, c.from, c.line)
					}
				}
				continue
			}
			for j := len(c.srcs) - 1; j >= 0; j-- {
				s := c.srcs[j]
				var cand string
				switch {
				case strings.ContainsAny(s, "*?["):
					if path.Dir(p) != c.dest {
						continue
					}
					cand = path.Join(path.Dir(s), path.Base(p))
					if ok, _ := path.Match(s, cand); !ok {
						continue
					}
				case s == "." || b.hasDir(s):
					rel, ok := under(c.dest, p)
					if !ok {
						continue
					}
					cand = path.Join(s, rel)
				case c.dirDest:
					if p != path.Join(c.dest, path.Base(s)) {
						continue
					}
					cand = s
				default:
					if p != c.dest {
						continue
					}
					cand = s
				}
				if b.Has(cand) {
					return cand, ""
				}
				if cand != "." && b.existsUnfiltered(cand) && b.Excluded(cand) {
					return "", fmt.Sprintf("%s is excluded by %s, so the COPY at line %d does not put it at %s", cand, b.IgnoreFile, c.line, p)
				}
			}
		}
	}
	return "", fmt.Sprintf("no COPY from the build context puts a file at %s before this RUN", p)
}

// under returns p relative to dir when p is dir or below it.
func under(dir, p string) (string, bool) {
	if p == dir {
		return ".", true
	}
	if dir == "/" {
		return p[1:], true
	}
	rest, ok := strings.CutPrefix(p, dir+"/")
	return rest, ok
}

// within reports whether p is directory dir or below it.
func within(dir, p string) bool {
	_, ok := under(dir, p)
	return ok
}

// absPath joins a possibly relative container path to dir.
func absPath(dir, p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	if !path.IsAbs(p) {
		p = path.Join(dir, p)
	}
	return path.Clean("/" + p)
}

// hasDir reports whether the context has files under directory d.
func (b *Build) hasDir(d string) bool {
	files, err := b.Files()
	if err != nil || d == "" {
		return false
	}
	i, _ := slices.BinarySearch(files, d+"/")
	return i < len(files) && strings.HasPrefix(files[i], d+"/")
}

// existsUnfiltered reports whether the context holds name, whether or not
// .dockerignore excludes it.
func (b *Build) existsUnfiltered(name string) bool {
	if b.Context == nil {
		return false
	}
	_, err := fs.Stat(b.Context, name)
	return err == nil
}

// script returns the shell text the rules read a go command's flags and
// settings from: the RUN's, and for a go command behind make or a script,
// the command itself with its environment.
func (c goCall) script(run string) string {
	if c.from == nil {
		return run
	}
	return run + "\n" + c.from.text
}

// cgoOff reports whether the environment of a go command behind make or a
// script disables cgo.
func (c goCall) cgoOff() bool {
	return c.from != nil && c.from.env["CGO_ENABLED"] == "0"
}

// locate adds to the findings from index n on where go command c is, when
// it is behind make or a script.
func (a *analysis) locate(n int, c goCall) {
	if c.from == nil {
		return
	}
	for i := n; i < len(a.findings); i++ {
		a.findings[i].Message += c.describe()
	}
}

// buildMark is where the findings about one GoBuild start.
type buildMark struct {
	n  int
	gb GoBuild
}

// locateBuilds adds to the findings about each GoBuild where its go
// command is, when it is behind make or a script.
func (a *analysis) locateBuilds(marks []buildMark) {
	for i, m := range marks {
		end := len(a.findings)
		if i+1 < len(marks) {
			end = marks[i+1].n
		}
		if m.gb.Where == "" && m.gb.Via == "" {
			continue
		}
		for j := m.n; j < end; j++ {
			a.findings[j].Message += m.gb.describe()
		}
	}
}

func (gb GoBuild) describe() string {
	if gb.Where == "" {
		return fmt.Sprintf(" (go %s in %s)", gb.Command, gb.Via)
	}
	return fmt.Sprintf(" (go %s at %s, run by %s)", gb.Command, gb.Where, gb.Via)
}

// checkOpaque runs CC013: a RUN after the source is copied, with no module
// download before it, runs a step that cannot be read, which may download
// modules.
func (a *analysis) checkOpaque(st *Stage, in *Instruction, f *stageFacts, calls []goCall) {
	fw := a.b.follow(st, in)
	if fw == nil || len(fw.opaque) == 0 || f.download != nil {
		return
	}
	if slices.ContainsFunc(calls, isDownload) || slices.ContainsFunc(calls, isBuild) {
		return // the rules about the readable go commands apply
	}
	if !slices.ContainsFunc(f.copies, a.copiesSource) {
		return
	}
	mods := a.stageMods(f)
	if len(mods) == 0 || slices.ContainsFunc(mods, a.vendored) || a.builtBefore(st, in) {
		return
	}
	modcache, _, _, _ := a.cacheDirs(st, in, f)
	edits, note := a.noDownloadFix(st, in, f, modcache)
	if note != "" {
		note += "; or make the step readable (its Makefile or script in the build context)"
	}
	a.addFix(ruleOpaqueBuild, ruleOpaqueBuild.Severity, st, in.Line, in.EndLine,
		fmt.Sprintf("this RUN runs a step that cachecheck cannot read, after the source is copied and with no go mod download before it, so it may download every module again on each code change: %s", strings.Join(fw.opaque, "; ")),
		edits, note)
}

// builtBefore reports whether a go build ran in the stage (or the stages
// it is built on) before in: a later step then runs what it built.
func (a *analysis) builtBefore(st *Stage, in *Instruction) bool {
	c := &a.b.behind
	if c.firstBuild == nil {
		c.firstBuild = map[int]int{}
	}
	upto := slices.Index(st.Instructions, in)
	for s := st; ; {
		first, ok := c.firstBuild[s.Index]
		if !ok {
			first = slices.IndexFunc(s.Instructions, func(x *Instruction) bool {
				return slices.ContainsFunc(goCalls(x.Script()), isBuild)
			})
			c.firstBuild[s.Index] = first
		}
		if first >= 0 && first < upto {
			return true
		}
		if s.BaseStage < 0 || s.BaseStage >= s.Index {
			return false
		}
		s, upto = a.b.Stages[s.BaseStage], maxBound
	}
}

// runBuild is a go build or go install of a RUN, with where it is.
type runBuild struct {
	gosettings.Command
	where, via string
}

// runBuilds returns the go build and go install commands of a RUN: those
// on its command line and those behind make and scripts.
func (b *Build) runBuilds(st *Stage, in *Instruction, env map[string]string) []runBuild {
	var out []runBuild
	for _, c := range gosettings.ParseScript(in.Script(), env) {
		out = append(out, runBuild{Command: c})
	}
	direct := len(out)
	fw := b.follow(st, in)
	if fw == nil {
		return out
	}
	for _, c := range fw.calls {
		if c.sub != "build" && c.sub != "install" || c.from.where == "" && direct > 0 {
			continue
		}
		for _, pc := range gosettings.ParseScript(c.from.text, env) {
			out = append(out, runBuild{Command: pc, where: c.from.where, via: c.from.via})
		}
	}
	return out
}

// fixCgoBehind gives the CC008 findings from index n on a fix that works
// for a go command behind make or a script: the environment, which make
// and the shell pass on, or the file that sets CGO_ENABLED.
func (a *analysis) fixCgoBehind(n int, c goCall, st *Stage) {
	if c.from == nil {
		return
	}
	v, ok := c.from.env["CGO_ENABLED"]
	if !ok || v == "0" {
		// The ENV edit serves: make and the shell pass it on to go.
		for i := n; i < len(a.findings); i++ {
			a.findings[i].Fix = a.fixText(a.findings[i].Edits, "make and the shell pass it on to go")
		}
		return
	}
	// The file sets its own value, which an ENV would not change: no
	// edit of the Dockerfile fixes it.
	file, _, _ := strings.Cut(c.from.where, ":")
	if file == "" {
		file = "the script"
	}
	for i := n; i < len(a.findings); i++ {
		a.findings[i].Fix = fmt.Sprintf("set CGO_ENABLED=0 where %s sets CGO_ENABLED=%s (%s runs go with it)", file, v, c.from.via)
		a.findings[i].Edits = nil
	}
}
