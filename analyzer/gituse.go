package analyzer

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

// gitReadRE finds git commands that read the repository of the build
// context: version stamping with git describe or git rev-parse, a
// checkout of another branch, and the like. git clone, git config and git
// init do not.
var gitReadRE = regexp.MustCompile(`(?:^|[\s;&|(` + "`" + `$])git\s+(?:-C\s+\S+\s+)?(describe|rev-parse|rev-list|log|show|status|diff|symbolic-ref|branch|tag|ls-files|ls-tree|name-rev|submodule|archive|stash|worktree|checkout|switch|restore|reset|fetch|pull|merge|rebase|cherry-pick)\b`)

// buildvcsRE finds -buildvcs=true (or a bare -buildvcs): go build then
// fails without the repository.
var buildvcsRE = regexp.MustCompile(`-buildvcs(?:=true)?(?:[\s'"]|$)`)

// GitUse says why a shell script needs the .git directory of the build
// context ("git describe", "-buildvcs=true"), or "" when it does not.
// The analyzer calls it on each RUN's script; a reader of the Makefiles
// and scripts a RUN runs can call it on their text.
func GitUse(script string) string {
	why, _ := gitUseAt(script)
	return why
}

// gitUseAt is GitUse with the offset in script of what needs .git.
func gitUseAt(script string) (why string, off int) {
	if m := gitReadRE.FindStringSubmatchIndex(script); m != nil {
		return "git " + script[m[2]:m[3]], m[2]
	}
	if m := buildvcsRE.FindStringIndex(script); m != nil {
		return "-buildvcs=true", m[0]
	}
	return "", -1
}

// gitUse returns the first RUN of stage st, or of a stage built on it,
// whose script, or a Makefile or script it runs, needs .git, and why; nil
// when none does.
func (a *analysis) gitUse(st *Stage) (*Instruction, string) {
	for _, s := range a.b.Stages[st.Index:] {
		root := s
		for i := 0; root != st && root.BaseStage >= 0 && i < len(a.b.Stages); i++ {
			root = a.b.Stages[root.BaseStage]
		}
		if root != st {
			continue
		}
		for _, in := range s.Instructions {
			if in.Run() == nil {
				continue
			}
			if why := GitUse(in.Script()); why != "" {
				return in, why
			}
			// The Makefiles and scripts the RUN runs.
			if fw := a.b.follow(s, in); fw != nil && fw.git != "" {
				return in, fw.git
			}
		}
	}
	return nil, ""
}

// gitDirs returns the directories of the build context that hold a .git
// directory or file the .dockerignore lets through: "." for the
// context's own checkout, "server" for server/.git.
func (a *analysis) gitDirs() []string {
	if a.gits != nil {
		return *a.gits
	}
	var dirs []string
	files, _ := a.b.Files()
	for _, f := range files {
		if !strings.Contains(f, ".git") {
			continue
		}
		var d string
		switch i := strings.Index("/"+f+"/", "/.git/"); {
		case i < 0:
			continue
		case i == 0:
			d = "."
		default:
			d = f[:i-1]
		}
		if len(dirs) == 0 || dirs[len(dirs)-1] != d {
			dirs = append(dirs, d)
		}
	}
	if a.revisionContext() && !a.b.Excluded(".git") {
		dirs = append(dirs, ".")
	}
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	a.gits = &dirs
	return dirs
}

// revisionContext reports whether the build context is a git revision
// (internal/gitfs, which has a Commit method): it stands for a checkout of
// that commit, whose .git is at the top, though the tree has none.
func (a *analysis) revisionContext() bool {
	_, ok := a.b.Context.(interface{ Commit() string })
	return ok
}

// gitsCopied returns the directories of gitDirs whose .git the copy cf
// sends into the image.
func (a *analysis) gitsCopied(cf copyFact) []string {
	if a.b.Context == nil {
		// No context to look at: a copy of everything copies .git
		// unless it is excluded.
		if slices.Contains(cf.srcs, ".") && !a.b.Excluded(".git") {
			return []string{"."}
		}
		return nil
	}
	var out []string
	for _, d := range a.gitDirs() {
		if d == "." && a.revisionContext() {
			if slices.ContainsFunc(cf.srcs, func(s string) bool { return Covers(s, ".git") }) {
				out = append(out, d)
			}
			continue
		}
		// cf.files is sorted: the first file at or after g tells.
		g := path.Join(d, ".git")
		if i, _ := slices.BinarySearch(cf.files, g); i < len(cf.files) && (cf.files[i] == g || strings.HasPrefix(cf.files[i], g+"/")) {
			out = append(out, d)
		}
	}
	return out
}
