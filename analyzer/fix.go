package analyzer

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/cachecheck/cachecheck/reports"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/mod/modfile"
)

// Edit is one change to a file that fixes a finding.
type Edit = reports.Edit

// addFix adds a finding whose fix is the edits (described by FixText) and
// a note; with no edits the note alone is the fix.
func (a *analysis) addFix(r *Rule, sev reports.Severity, stage *Stage, line, end int, msg string, edits []Edit, note string) {
	a.addSev(r, sev, stage, line, end, msg, a.fixText(edits, note))
	a.findings[len(a.findings)-1].Edits = edits
}

// fixText describes edits the way a reader would apply them by hand,
// followed by the note.
func (a *analysis) fixText(edits []Edit, note string) string {
	var parts []string
	for _, e := range edits {
		parts = append(parts, a.describeEdit(e))
	}
	if note != "" {
		parts = append(parts, note)
	}
	return strings.Join(parts, "; ")
}

func (a *analysis) describeEdit(e Edit) string {
	lines := strings.Split(strings.TrimSuffix(e.Text, "\n"), "\n")
	text := strings.Join(lines, " | ")
	noun := "the line"
	if len(lines) > 1 {
		noun = "the lines"
	}
	if e.File != "" {
		if e.Insert() && e.Line == 1 && a.b.IgnoreFile == "" {
			return fmt.Sprintf("create %s with %s %s", e.File, noun, text)
		}
		if e.Insert() {
			return fmt.Sprintf("add %s %s to %s", noun, text, e.File)
		}
		return fmt.Sprintf("in %s, %s", e.File, describeLines(e, text))
	}
	return describeLines(e, text)
}

func describeLines(e Edit, text string) string {
	span := fmt.Sprintf("line %d", e.Line)
	if e.EndLine > e.Line {
		span = fmt.Sprintf("lines %d-%d", e.Line, e.EndLine)
	}
	switch {
	case e.Insert():
		return fmt.Sprintf("add before line %d: %s", e.Line, text)
	case e.Text == "":
		return "remove " + span
	case e.EndLine == e.Line:
		return fmt.Sprintf("change line %d to: %s", e.Line, text)
	}
	return fmt.Sprintf("replace %s with: %s", span, text)
}

// insertBefore returns an edit that inserts lines before line.
func insertBefore(line int, lines ...string) Edit {
	return Edit{Line: line, EndLine: line - 1, Text: strings.Join(lines, "\n") + "\n"}
}

// computeWorkdirs records the WORKDIR each instruction runs in. A stage
// from an image starts in the image's WORKDIR: /go for golang images (and
// mirrors of them), / for the others.
func (a *analysis) computeWorkdirs() {
	a.workdir = map[*Instruction]string{}
	var ends []string
	for _, st := range a.b.Stages {
		wd := "/"
		if st.BaseStage >= 0 && st.BaseStage < len(ends) {
			wd = ends[st.BaseStage]
		} else if name, _ := splitImage(st.Base); name == "golang" || strings.HasSuffix(name, "/golang") {
			wd = "/go"
		}
		for _, in := range st.Instructions {
			a.workdir[in] = wd
			if w, ok := in.Command.(*instructions.WorkdirCommand); ok {
				wd = path.Join(wd, w.Path)
				if path.IsAbs(w.Path) {
					wd = path.Clean(w.Path)
				}
			}
		}
		ends = append(ends, wd)
	}
}

// place returns where a COPY or ADD from the context puts context file
// name in the image, as an absolute path, or ok false when it does not
// copy it or the place cannot be told (--parents, a URL).
func (a *analysis) place(cf copyFact, name string) (string, bool) {
	ci, _ := cf.in.Copy()
	if c, ok := cf.in.Command.(*instructions.CopyCommand); ok && c.Parents {
		return "", false
	}
	if a.b.Context != nil {
		if _, ok := slices.BinarySearch(cf.files, name); !ok {
			return "", false
		}
	} else if a.b.Excluded(name) {
		return "", false
	}
	wd := a.workdir[cf.in]
	dest := path.Join(wd, ci.Dest)
	if path.IsAbs(ci.Dest) {
		dest = path.Clean(ci.Dest)
	}
	intoDir := len(ci.Sources) > 1 || strings.HasSuffix(ci.Dest, "/") || dest == wd || path.Base(ci.Dest) == "."
	for _, s := range cf.srcs {
		if strings.ContainsAny(s, "*?[") {
			intoDir = true
		}
	}
	out, found := "", false
	for _, s := range cf.srcs {
		switch {
		case s == name:
			out, found = dest, true
			if intoDir {
				out = path.Join(dest, path.Base(name))
			}
		case s == ".":
			out, found = path.Join(dest, name), true
		case strings.HasPrefix(name, s+"/"):
			out, found = path.Join(dest, name[len(s)+1:]), true
		case strings.ContainsAny(s, "*?["):
			parts := strings.Split(name, "/")
			depth := strings.Count(s, "/")
			if len(parts) <= depth {
				continue
			}
			prefix := strings.Join(parts[:depth+1], "/")
			if ok, _ := path.Match(s, prefix); !ok {
				continue
			}
			if prefix == name {
				out, found = path.Join(dest, path.Base(name)), true
			} else {
				out, found = path.Join(dest, name[len(prefix)+1:]), true
			}
		}
	}
	return out, found
}

// placeIn returns where the last of the copies that copies name puts it.
func (a *analysis) placeIn(copies []copyFact, name string) (img string, cf copyFact, ok bool) {
	for i := len(copies) - 1; i >= 0; i-- {
		if p, found := a.place(copies[i], name); found {
			return p, copies[i], true
		}
	}
	return "", copyFact{}, false
}

// mainModule returns the go.work or go.mod (a context path) that a go
// command run in workdir wd uses, given the files the copies put into the
// image: a go.work in wd or a parent (unless GOWORK is set), else the
// nearest go.mod.
func (a *analysis) mainModule(copies []copyFact, in *Instruction, wd string) (string, bool) {
	img := map[string]string{}
	for _, p := range a.modFiles(copies) {
		if ip, _, ok := a.placeIn(copies, p); ok {
			img[ip] = p
		}
	}
	gowork, set := scopeVar(in, "GOWORK")
	if strings.Contains(in.Script(), "GOWORK=") || strings.Contains(in.Script(), " cd ") || strings.HasPrefix(in.Script(), "cd ") || strings.Contains(in.Script(), " -C ") {
		return "", false
	}
	for _, base := range []string{"go.work", "go.mod"} {
		if base == "go.work" && set && gowork != "" {
			continue
		}
		for d := wd; ; d = path.Dir(d) {
			if p, ok := img[path.Join(d, base)]; ok {
				return p, true
			}
			if d == "/" || d == "." {
				break
			}
		}
	}
	return "", false
}

// moduleClosure lists the context files go mod download needs for the
// main go.mod or go.work p: p and its sum file; for a workspace every use
// directory's go.mod and go.sum; the go.mod and go.sum of every local
// replacement that applies. ok is false when one of them is not in the
// build context (after .dockerignore).
func (a *analysis) moduleClosure(p string) (files []string, ok bool) {
	if a.b.Context == nil {
		return nil, false
	}
	seen := map[string]bool{}
	add := func(f string, need bool) bool {
		if !a.b.Has(f) {
			return !need
		}
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
		return true
	}
	dirOK := func(dir string) bool {
		return dir != ".." && !strings.HasPrefix(dir, "../") && add(path.Join(dir, "go.mod"), true) && add(path.Join(dir, "go.sum"), false)
	}
	replaces := func(gomod string, rs []*modfile.Replace) bool {
		for _, r := range rs {
			if !modfile.IsDirectoryPath(r.New.Path) {
				continue
			}
			if path.IsAbs(r.New.Path) || !dirOK(path.Join(path.Dir(gomod), r.New.Path)) {
				return false
			}
		}
		return true
	}
	if !add(p, true) {
		return nil, false
	}
	m := a.readMod(p)
	switch {
	case m.work != nil:
		add(path.Join(path.Dir(p), "go.work.sum"), false)
		for _, u := range m.work.Use {
			dir := path.Join(path.Dir(p), u.Path)
			if path.IsAbs(u.Path) || !dirOK(dir) {
				return nil, false
			}
			if um := a.readMod(path.Join(dir, "go.mod")); um.mod == nil || !replaces(um.path, um.mod.Replace) {
				return nil, false
			}
		}
		// go mod download looks up a requirement of one workspace module
		// by another at its version unless a replace points it at the
		// directory: a download step would fail where go build works.
		inWork := map[string]bool{}
		for _, u := range m.work.Use {
			if um := a.readMod(path.Join(path.Dir(p), u.Path, "go.mod")); um.mod != nil && um.mod.Module != nil {
				inWork[um.mod.Module.Mod.Path] = true
			}
		}
		for _, u := range m.work.Use {
			um := a.readMod(path.Join(path.Dir(p), u.Path, "go.mod"))
			replaced := map[string]bool{}
			for _, r := range um.mod.Replace {
				replaced[r.Old.Path] = true
			}
			for _, r := range m.work.Replace {
				replaced[r.Old.Path] = true
			}
			for _, r := range um.mod.Require {
				if inWork[r.Mod.Path] && !replaced[r.Mod.Path] {
					return nil, false
				}
			}
		}
		if !replaces(p, m.work.Replace) {
			return nil, false
		}
	case m.mod != nil:
		add(path.Join(path.Dir(p), "go.sum"), false)
		if !replaces(p, m.mod.Replace) {
			return nil, false
		}
	default:
		return nil, false
	}
	return files, true
}

// copyLines writes COPY instructions that put each context file at its
// image path: one COPY per pair of context and image directory, so that
// files of two modules never meet in one directory. The destinations are
// relative to wd when they lie under it.
func copyLines(flags string, files []string, img map[string]string, wd string) []string {
	type group struct {
		srcs []string
		dest string
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, f := range files {
		ip := img[f]
		if path.Base(ip) != path.Base(f) {
			groups = append(groups, &group{srcs: []string{f}, dest: destExpr(ip, wd, false)})
			continue
		}
		key := path.Dir(f) + "\x00" + path.Dir(ip)
		g := byKey[key]
		if g == nil {
			g = &group{dest: destExpr(path.Dir(ip), wd, true)}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.srcs = append(g.srcs, f)
	}
	var out []string
	for _, g := range groups {
		out = append(out, "COPY "+flags+copyArgs(append(g.srcs, g.dest)))
	}
	return out
}

// destExpr writes image path p as a COPY destination: relative to wd when
// under it, with a trailing slash for a directory.
func destExpr(p, wd string, dir bool) string {
	s := p
	switch {
	case p == wd:
		s = "."
	case wd == "/":
		s = strings.TrimPrefix(p, "/")
	case strings.HasPrefix(p, wd+"/"):
		s = p[len(wd)+1:]
	}
	if dir && !strings.HasSuffix(s, "/") {
		s += "/"
	}
	if s == "./" || s == "." && dir {
		return "./"
	}
	return s
}

// copyArgs writes COPY arguments, in the JSON form when one holds a space
// or a quote.
func copyArgs(args []string) string {
	for _, s := range args {
		if strings.ContainsAny(s, " \t\"'\\$") {
			b, _ := json.Marshal(args)
			return string(b)
		}
	}
	return strings.Join(args, " ")
}

// flagsOf returns the leading --flags of an instruction as written,
// those keep accepts, each followed by a space.
func flagsOf(in *Instruction, keep func(string) bool) string {
	words := strings.Fields(in.Text)
	var b strings.Builder
	for _, w := range words[min(1, len(words)):] {
		if !strings.HasPrefix(w, "--") {
			break
		}
		if keep(w) {
			b.WriteString(w + " ")
		}
	}
	return b.String()
}

// ownerFlags keeps the --chown, --chmod and --link flags of a COPY.
func ownerFlags(w string) bool {
	return strings.HasPrefix(w, "--chown=") || strings.HasPrefix(w, "--chmod=") || w == "--link" || strings.HasPrefix(w, "--link=")
}

// instrLines returns the text of lines from..to of the Dockerfile.
func (a *analysis) instrLines(from, to int) []string {
	if from < 1 || to > len(a.b.Lines) || from > to {
		return nil
	}
	return a.b.Lines[from-1 : to]
}

// downloadOnlyRE matches a RUN script that runs go mod download (or
// verify) and nothing else.
var downloadOnlyRE = regexp.MustCompile(`^\s*(?:(?:\w+=\S*\s+)*go\s+mod\s+(?:download|verify)\b[^;&|\n` + "`" + `$()]*)(?:&&\s*(?:\w+=\S*\s+)*go\s+mod\s+(?:download|verify)\b[^;&|\n` + "`" + `$()]*)*$`)

func downloadOnly(in *Instruction) bool {
	r := in.Run()
	return r != nil && len(r.Files) == 0 && r.PrependShell && downloadOnlyRE.MatchString(strings.Join(r.CmdLine, " "))
}

// modulePlaces returns where the copies put the files: ok false when one
// of them is not in the image.
func (a *analysis) modulePlaces(copies []copyFact, files []string) (map[string]string, bool) {
	img := map[string]string{}
	for _, f := range files {
		ip, _, ok := a.placeIn(copies, f)
		if !ok {
			return nil, false
		}
		img[f] = ip
	}
	return img, true
}

// quietBetween reports whether the instructions of st strictly between
// lines from and to can run after a go mod download moved before them
// without changing it: copies, labels, and ARG, ENV and RUN that do not
// touch Go, git, proxies or credentials; with workdirs, WORKDIR too (the
// caller then runs the download in the directory it ran in).
func quietBetween(st *Stage, from, to int, workdirs bool) bool {
	for _, in := range st.Instructions {
		if in.Line <= from || in.Line >= to {
			continue
		}
		switch c := in.Command.(type) {
		case *instructions.CopyCommand, *instructions.AddCommand, *instructions.LabelCommand, *instructions.ExposeCommand, *instructions.VolumeCommand:
		case *instructions.WorkdirCommand:
			if !workdirs {
				return false
			}
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if goEnvRE.MatchString(kv.Key) {
					return false
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if goEnvRE.MatchString(kv.Key) {
					return false
				}
			}
		case *instructions.RunCommand:
			if goEnvRE.MatchString(in.Script()) || len(goCalls(in.Script())) > 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

var goEnvRE = regexp.MustCompile(`(?i)^(GO|CGO_|HOME$|XDG_|HTTPS?_PROXY$|NO_PROXY$|SSL_|GIT_)|\bgit\b|netrc|\bgo\s+env\b|GOPRIVATE|GOPROXY|GOFLAGS|GONOSUMDB`)
