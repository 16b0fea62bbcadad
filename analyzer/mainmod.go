package analyzer

import (
	"path"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// imagePath returns where copy cf puts the context file p in the image,
// as an absolute path, and ok false when cf does not copy p.
func imagePath(cf copyFact, p string) (string, bool) {
	dest := cf.dest
	if dest == "" {
		dest = "/"
	}
	parents := false
	if c, ok := cf.in.Command.(*instructions.CopyCommand); ok {
		parents = c.Parents
	}
	for _, s := range cf.srcs {
		if !Covers(s, p) {
			continue
		}
		switch {
		case parents:
			return path.Join(dest, p), true
		case s == ".":
			return path.Join(dest, p), true
		case s == p && len(cf.srcs) == 1 && !strings.HasSuffix(cf.rawDest, "/") && !strings.HasSuffix(cf.rawDest, "."):
			return dest, true // COPY a/go.mod /x/go.mod
		case s == p || strings.ContainsAny(s, "*?["):
			return path.Join(dest, path.Base(p)), true
		default:
			return path.Join(dest, strings.TrimPrefix(p, s+"/")), true
		}
	}
	return "", false
}

var cdRE = regexp.MustCompile(`(?:^|[;&|(]|\n)\s*cd\s+("[^"]*"|'[^']*'|[^\s;&|)]+)`)

// goDir returns the directory in the image where the first go command of
// script runs: the WORKDIR, changed by any cd before that command.
func goDir(workdir, script string) string {
	dir := workdir
	if dir == "" {
		dir = "/"
	}
	end := len(script)
	if loc := goCommandRE.FindStringIndex(script); loc != nil {
		end = loc[0]
	}
	for _, m := range cdRE.FindAllStringSubmatch(script[:end], -1) {
		d := strings.Trim(m[1], `"'`)
		if strings.ContainsAny(d, "$`~") || d == "-" {
			continue
		}
		if path.IsAbs(d) {
			dir = path.Clean(d)
		} else {
			dir = path.Join(dir, d)
		}
	}
	return dir
}

// mainModFiles returns the module files whose replace and use directives
// apply to a go command that runs in directory dir of the image with the
// module files mods copied: the go.work above dir with the go.mod files of
// the modules it uses or, without a workspace, the go.mod above dir. A
// nested module's or a dependency's go.mod is not among them. When no
// copied file is above dir, the shallowest go.work or go.mod stands for
// the main module.
func (a *analysis) mainModFiles(copies []copyFact, mods []string, dir string, workOff bool) []string {
	where := func(p string) (string, bool) {
		loc, found := "", false
		for _, cf := range copies {
			if l, ok := imagePath(cf, p); ok {
				loc, found = l, true
			}
		}
		return path.Dir(loc), found
	}
	pick := func(base string) string {
		best, bestDir := "", ""
		for _, p := range mods {
			if path.Base(p) != base {
				continue
			}
			if d, ok := where(p); ok && within(d, dir) && (best == "" || len(d) > len(bestDir)) {
				best, bestDir = p, d
			}
		}
		return best
	}
	work := ""
	if !workOff {
		work = pick("go.work")
	}
	mod := pick("go.mod")
	if work == "" && mod == "" {
		for _, p := range mods {
			if path.Base(p) == "go.work" && workOff {
				continue
			}
			if work == "" && mod == "" || strings.Count(p, "/") < strings.Count(work+mod, "/") {
				work, mod = "", ""
				if path.Base(p) == "go.work" {
					work = p
				} else {
					mod = p
				}
			}
		}
	}
	if work == "" {
		if mod == "" {
			return nil
		}
		return []string{mod}
	}
	out := []string{work}
	if w := a.readMod(work).work; w != nil {
		for _, u := range w.Use {
			q := path.Join(path.Dir(work), u.Path, "go.mod")
			for _, p := range mods {
				if p == q {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

var goworkOffRE = regexp.MustCompile(`\bGOWORK=off\b`)

// workOff reports whether a RUN turns workspaces off.
func workOff(in *Instruction, script string) bool {
	v, _ := scopeVar(in, "GOWORK")
	return v == "off" || goworkOffRE.MatchString(script)
}
