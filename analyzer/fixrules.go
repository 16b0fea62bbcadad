package analyzer

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// The mechanical fixes of the rules. Each returns the edits, or none when
// the fix cannot be written so that the build surely works; the note then
// says what to do by hand.

func inStage(st *Stage, in *Instruction) bool { return slices.Contains(st.Instructions, in) }

// copyFactOf is the copyFact of a COPY or ADD from the context.
func (a *analysis) copyFactOf(in *Instruction) (copyFact, bool) {
	ci, ok := in.Copy()
	if !ok || !ci.FromContext() || ci.Inline {
		return copyFact{}, false
	}
	files, _ := a.b.Sources(in)
	cf := copyFact{in: in, files: files}
	for _, s := range ci.Sources {
		if !isURL(s) {
			cf.srcs = append(cf.srcs, CleanSource(s))
		}
	}
	return cf, true
}

// moduleCopies returns the COPY lines that put the module files of the go
// command in (run in the image the copies make) where the copies put them,
// with the owner flags of flagsFrom, for a COPY in workdir wd.
func (a *analysis) moduleCopies(copies []copyFact, in, flagsFrom *Instruction, wd string) ([]string, bool) {
	main, ok := a.mainModule(copies, in, a.workdir[in])
	if !ok {
		return nil, false
	}
	files, ok := a.moduleClosure(main)
	if !ok {
		return nil, false
	}
	img, ok := a.modulePlaces(copies, files)
	if !ok {
		return nil, false
	}
	return copyLines(flagsOf(flagsFrom, ownerFlags), files, img, wd), true
}

// sourceFirstFix is CC001's: the module files, then the download moved
// before the copy of the source cf.
func (a *analysis) sourceFirstFix(st *Stage, dl *Instruction, f *stageFacts, cf copyFact) ([]Edit, string) {
	lines, ok := a.moduleCopies(f.copies, dl, cf.in, a.workdir[cf.in])
	const how = "copy only the module files first, RUN go mod download, then copy the source"
	if !ok {
		return nil, how
	}
	// The download runs where it ran: a WORKDIR between the copy and the
	// download ("ADD . /app/", "WORKDIR /app", "RUN go mod download")
	// goes before it too, and the copy's own WORKDIR is set again after
	// it unless nothing up to the download depends on it.
	from, to := a.workdir[cf.in], a.workdir[dl]
	var cd, back []string
	if from != to {
		cd = []string{"WORKDIR " + to}
		if !workdirFree(st, cf.in.Line, dl.Line) {
			back = []string{"WORKDIR " + from}
		}
	}
	if !inStage(st, cf.in) || !downloadOnly(dl) || !quietBetween(st, cf.in.Line, dl.Line, true) {
		return nil, fmt.Sprintf("%s: %s, then the download of line %d, before line %d", how, strings.Join(append(lines, cd...), " | "), dl.Line, cf.in.Line)
	}
	moved := a.instrLines(dl.Line, dl.EndLine)
	block := append(append(append(lines, cd...), moved...), back...)
	return []Edit{insertBefore(cf.in.Line, block...), {Line: dl.Line, EndLine: dl.EndLine}}, ""
}

// workdirFree reports whether the instructions of st from line from up to
// (not including) line to do the same in any working directory: copies to
// absolute destinations and absolute WORKDIRs.
func workdirFree(st *Stage, from, to int) bool {
	for _, in := range st.Instructions {
		if in.Line < from || in.Line >= to {
			continue
		}
		if w, ok := in.Command.(*instructions.WorkdirCommand); ok {
			if !path.IsAbs(w.Path) {
				return false
			}
			continue
		}
		ci, ok := in.Copy()
		if !ok || !path.IsAbs(ci.Dest) {
			return false
		}
	}
	return true
}

// noDownloadFix is CC003's: the module files and a go mod download before
// the first copy of the source, with the build's secret, ssh and module
// cache mounts.
func (a *analysis) noDownloadFix(st *Stage, build *Instruction, f *stageFacts, modcache string) ([]Edit, string) {
	var sc *copyFact
	for i := range f.copies {
		if a.copiesSource(f.copies[i]) {
			sc = &f.copies[i]
			break
		}
	}
	const how = "before copying the source, copy the module files and RUN go mod download"
	if sc == nil {
		return nil, how
	}
	lines, ok := a.moduleCopies(f.copies, build, sc.in, a.workdir[sc.in])
	if !ok {
		return nil, how
	}
	mounts := flagsOf(build, func(w string) bool {
		m, ok := parseMountFlag(w)
		return ok && (m["type"] == "secret" || m["type"] == "ssh" || m["type"] == "cache" && path.Clean(mountTarget(m)) == path.Clean(modcache))
	})
	run := "RUN " + mounts + "go mod download"
	lines = append(lines, run)
	if !inStage(st, sc.in) || !quietBetween(st, sc.in.Line, build.Line, false) || a.workdir[sc.in] != a.workdir[build] {
		return nil, fmt.Sprintf("%s before line %d: %s", how, sc.in.Line, strings.Join(lines, " | "))
	}
	return []Edit{insertBefore(sc.in.Line, lines...)}, ""
}

// sumFix is CC002's: sum copied beside go.mod p, into the directory the
// copy of p puts it in, by the same COPY when it copies plain files of
// that directory, else by a COPY right after it.
func (a *analysis) sumFix(copies []copyFact, p, sum string) ([]Edit, string) {
	img, cf, ok := a.placeIn(copies, p)
	if !ok {
		return nil, fmt.Sprintf("copy %s into the directory of %s", sum, p)
	}
	dir, wd := path.Dir(img), a.workdir[cf.in]
	in := cf.in
	words := strings.Fields(in.Text)
	plain := in.Line == in.EndLine && len(words) > 0 && !strings.Contains(in.Text, "[")
	var srcs []string
	for _, s := range cf.srcs {
		ip, ok := a.place(cf, s)
		plain = plain && ok && path.Dir(s) == path.Dir(p) && path.Dir(ip) == dir && path.Base(ip) == path.Base(s) && !strings.ContainsAny(s, "*?[")
		srcs = append(srcs, s)
	}
	if ci, _ := in.Copy(); plain && !ci.Add && len(ci.Sources) == len(srcs) {
		line := a.b.Lines[in.Line-1]
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		kw := strings.Fields(line)[0]
		text := indent + kw + " " + flagsOf(in, func(string) bool { return true }) + copyArgs(append(append(srcs, sum), destExpr(dir, wd, true)))
		return []Edit{{Line: in.Line, EndLine: in.Line, Text: text + "\n"}}, ""
	}
	return []Edit{insertBefore(in.EndLine+1, "COPY "+flagsOf(in, ownerFlags)+copyArgs([]string{sum, destExpr(dir, wd, true)}))}, ""
}

// ignoreAppend is an edit adding line to the .dockerignore in use, or
// creating one with it.
func (a *analysis) ignoreAppend(line string) Edit {
	if a.b.Ignore == nil || a.b.IgnoreFile == "" {
		name := a.b.ignoreDefault
		if name == "" {
			name = ".dockerignore"
		}
		return Edit{File: name, Line: 1, EndLine: 0, Text: line + "\n"}
	}
	n := a.b.Ignore.lines
	return Edit{File: a.b.IgnoreFile, Line: n + 1, EndLine: n, Text: line + "\n"}
}

// localDirFix is CC004's for directory dir (of context go.mod or go.work
// p) missing at the download dl: its go.mod and go.sum copied before dl to
// where p's module expects them, and, when no later COPY brings the whole
// directory there before the first go build of the stage, the directory
// before that build.
func (a *analysis) localDirFix(st *Stage, dl *Instruction, f *stageFacts, p, dir, rel string) ([]Edit, string) {
	img, cf, ok := a.placeIn(f.copies, p)
	gomod := path.Join(dir, "go.mod")
	if !ok || a.b.Context == nil {
		return nil, fmt.Sprintf("copy %s before line %d, into the directory the module at %s names", gomod, dl.Line, p)
	}
	target := path.Join(path.Dir(img), rel)
	files := []string{gomod}
	if sum := path.Join(dir, "go.sum"); a.b.Has(sum) || a.existsInContext(sum) && a.b.Excluded(gomod) {
		files = append(files, sum)
	}
	places := map[string]string{}
	for _, f := range files {
		places[f] = path.Join(target, path.Base(f))
	}
	flags := flagsOf(cf.in, ownerFlags)
	edits := []Edit{insertBefore(dl.Line, copyLines(flags, files, places, a.workdir[dl])...)}
	// The first go build after the download in this stage, and whether a
	// copy before it brings the whole directory to target.
	var build *Instruction
	copies := slices.Clone(f.copies)
	for _, in := range st.Instructions {
		if in.Line <= dl.Line {
			continue
		}
		if c, ok := a.copyFactOf(in); ok {
			copies = append(copies, c)
		}
		if slices.ContainsFunc(goCalls(in.Script()), isBuild) {
			build = in
			break
		}
	}
	if build == nil {
		return edits, ""
	}
	for _, c := range copies {
		if ip, ok := a.place(c, gomod); ok && ip == path.Join(target, "go.mod") {
			for _, s := range c.srcs {
				if Covers(s, dir) {
					return edits, ""
				}
			}
		}
	}
	src := dir + "/"
	if dir == "." {
		src = "."
	}
	edits = append(edits, insertBefore(build.Line, "COPY "+flags+copyArgs([]string{src, destExpr(target, a.workdir[build], true)})))
	return edits, fmt.Sprintf("the go build at line %d needs the whole of %s, not only its go.mod", build.Line, dir)
}

// runFlagEdit adds flags to the RUN at in, right after the keyword.
func (a *analysis) runFlagEdit(in *Instruction, flags string) ([]Edit, bool) {
	if in.Line < 1 || in.Line > len(a.b.Lines) || strings.Contains(flags, "<") {
		return nil, false
	}
	line := a.b.Lines[in.Line-1]
	m := keywordRE.FindStringSubmatchIndex(line)
	if m == nil || !strings.EqualFold(line[m[4]:m[5]], "run") {
		return nil, false
	}
	text := line[:m[5]] + " " + flags + line[m[5]:]
	return []Edit{{Line: in.Line, EndLine: in.Line, Text: text + "\n"}}, true
}

var keywordRE = regexp.MustCompile(`^(\s*)(\S+)`)

// parseMountFlag reads a --mount=... word into its key=value options.
func parseMountFlag(w string) (map[string]string, bool) {
	v, ok := strings.CutPrefix(w, "--mount=")
	if !ok {
		return nil, false
	}
	m := map[string]string{"type": "bind"}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		m[strings.ToLower(k)] = val
	}
	return m, true
}

func mountTarget(m map[string]string) string {
	for _, k := range []string{"target", "dst", "destination"} {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return ""
}

// dropMountEdit removes the cache mount on target from the RUN at in (the
// whole line when it held nothing else).
func (a *analysis) dropMountEdit(in *Instruction, target string) ([]Edit, bool) {
	for l := in.Line; l <= in.EndLine && l <= len(a.b.Lines); l++ {
		line := a.b.Lines[l-1]
		for _, w := range strings.Fields(line) {
			m, ok := parseMountFlag(w)
			if !ok || m["type"] != "cache" || path.Clean(mountTarget(m)) != path.Clean(target) {
				continue
			}
			i := strings.Index(line, w)
			rest := strings.TrimLeft(line[i+len(w):], " \t")
			text := line[:i] + rest
			if strings.TrimSpace(text) == "\\" || strings.TrimSpace(text) == "" {
				return []Edit{{Line: l, EndLine: l}}, true
			}
			// "RUN --mount=... \" then "    go mod download": the
			// next line joins the keyword rather than leave "RUN \".
			if kw, ok := strings.CutSuffix(strings.TrimRight(text, " \t"), "\\"); ok && l < in.EndLine && len(strings.Fields(kw)) == 1 && strings.EqualFold(strings.TrimSpace(kw), "run") {
				next := strings.TrimLeft(a.b.Lines[l], " \t")
				return []Edit{{Line: l, EndLine: l + 1, Text: strings.TrimRight(kw, " \t") + " " + next + "\n"}}, true
			}
			return []Edit{{Line: l, EndLine: l, Text: text + "\n"}}, true
		}
	}
	return nil, false
}

// fromEdit replaces the image of the single-line FROM of st with image.
func (a *analysis) fromEdit(st *Stage, image func(old string) (string, bool)) ([]Edit, bool) {
	if st.Line != st.EndLine || st.Line < 1 || st.Line > len(a.b.Lines) {
		return nil, false
	}
	line := a.b.Lines[st.Line-1]
	words := strings.Fields(line)
	for _, w := range words[min(1, len(words)):] {
		if strings.HasPrefix(w, "--") {
			continue
		}
		img, ok := image(w)
		if !ok {
			return nil, false
		}
		i := strings.Index(line, " "+w)
		if i < 0 {
			return nil, false
		}
		return []Edit{{Line: st.Line, EndLine: st.Line, Text: line[:i+1] + img + line[i+1+len(w):] + "\n"}}, true
	}
	return nil, false
}

// toolchainFix is CC010's: the builder image's tag, or the ARG that names
// it, moved to Go need.
func (a *analysis) toolchainFix(root *Stage, tag string, need gosettings.Version) ([]Edit, bool) {
	newTag := func(old string) (string, bool) {
		v, ok := gosettings.ParseVersion(old)
		rest, found := strings.CutPrefix(old, v.String())
		if !ok || !found {
			return "", false
		}
		return need.Lang().String() + rest, true
	}
	if !strings.Contains(root.Text, "$") {
		return a.fromEdit(root, func(w string) (string, bool) {
			name, t, ok := strings.Cut(w, ":")
			if !ok || t != tag || strings.Contains(w, "@") {
				return "", false
			}
			nt, ok := newTag(t)
			return name + ":" + nt, ok
		})
	}
	m := argRefRE.FindStringSubmatch(root.Text)
	if m == nil {
		return nil, false
	}
	argRE := regexp.MustCompile(`^(\s*(?i:arg)\s+` + regexp.QuoteMeta(m[1]) + `=)(\S+)\s*$`)
	for i, line := range a.b.Lines {
		if i+1 >= a.b.Stages[0].Line {
			break
		}
		sm := argRE.FindStringSubmatch(line)
		if sm == nil {
			continue
		}
		nt, ok := newTag(sm[2])
		if !ok || !strings.HasPrefix(tag, sm[2]) {
			return nil, false
		}
		return []Edit{{Line: i + 1, EndLine: i + 1, Text: sm[1] + nt + "\n"}}, true
	}
	return nil, false
}

// fromDepsImage reports whether st starts from the deps image, or builds
// are compared with a deps image's build cache (CC012): a cache mount
// would hide the image's module or build cache.
func (a *analysis) fromDepsImage(st *Stage) bool {
	return a.o.depsImage != "" && a.rootImage(st).Base == a.o.depsImage || len(a.o.depsSettings) > 0
}

// downloadMountFix is CC006's for the download dl: the module cache mount
// on it and on every later go command of the stage that lacks it, which
// would otherwise no longer find the modules in the image.
func (a *analysis) downloadMountFix(st *Stage, dl *Instruction, f *stageFacts, flag, modcache string) ([]Edit, bool) {
	if a.fromDepsImage(st) {
		return nil, false
	}
	edits, ok := a.runFlagEdit(dl, flag)
	if !ok {
		return nil, false
	}
	for _, in := range st.Instructions {
		if in.Line <= dl.Line || !slices.ContainsFunc(goCalls(in.Script()), isBuild) {
			continue
		}
		mc, _, _, _ := a.cacheDirs(st, in, f)
		if mc != modcache {
			return nil, false
		}
		if hasCacheMount(in.Mounts(), modcache) {
			continue
		}
		e, ok := a.runFlagEdit(in, flag)
		if !ok {
			return nil, false
		}
		edits = append(edits, e...)
	}
	// A later stage built on this one would lose the modules too.
	for _, s := range a.b.Stages {
		if s.BaseStage == st.Index {
			return nil, false
		}
	}
	return edits, true
}
