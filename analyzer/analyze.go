package analyzer

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
	"github.com/cachecheck/cachecheck/reports"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/mod/modfile"
)

// Analyze runs every enabled rule over the build and returns its findings
// sorted by line and rule ID, without those silenced by a
// "# cachecheck:ignore ID" comment.
func Analyze(b *Build, opts ...Option) ([]Finding, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if _, err := b.Files(); err != nil {
		return nil, err
	}
	a := &analysis{b: b, o: o, mods: map[string]*modInfo{}}
	a.buildKit = a.detectBuildKit()
	a.run()
	ignored := ignoreComments(b.Lines)
	var out []Finding
	seen := map[string]bool{}
	for _, f := range a.findings {
		key := fmt.Sprintf("%s:%d:%s", f.Rule, f.Line, f.Message)
		if o.disabled[f.Rule] || seen[key] || silenced(ignored, b.Lines, f) {
			continue
		}
		seen[key] = true
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(x.Line, y.Line), cmp.Compare(x.Rule, y.Rule))
	})
	return out, nil
}

type analysis struct {
	b        *Build
	o        *options
	buildKit bool
	findings []Finding
	facts    []*stageFacts
	mods     map[string]*modInfo
}

// stageFacts is what a stage has done by its end, including what it
// inherited from the stage it is built on.
type stageFacts struct {
	copies   []copyFact
	download *Instruction // the first go mod download in the chain
	dlMount  bool         // the download used a module cache mount
	built    bool         // a go build ran (CC003 is reported once)
	user     string       // the USER in effect
	mods     modSet       // the module files of copies, see stageMods
}

type copyFact struct {
	in    *Instruction
	srcs  []string // cleaned context paths
	files []string // context files copied
}

func (a *analysis) add(r *Rule, stage *Stage, line, end int, msg, fix string) {
	a.addSev(r, r.Severity, stage, line, end, msg, fix)
}

func (a *analysis) addSev(r *Rule, sev reports.Severity, stage *Stage, line, end int, msg, fix string) {
	if end < line {
		end = line
	}
	f := Finding{Rule: r.ID, Slug: r.Slug, Severity: sev, File: a.b.Dockerfile, Line: line, EndLine: end, Message: msg, Fix: fix}
	if stage != nil {
		f.Stage = stage.Ref()
	}
	a.findings = append(a.findings, f)
}

func (a *analysis) detectBuildKit() bool {
	if a.o.buildKit != nil {
		return *a.o.buildKit
	}
	if a.b.Syntax != "" {
		return true
	}
	for _, s := range a.b.Stages {
		for _, in := range s.Instructions {
			if len(in.Mounts()) > 0 {
				return true
			}
			if r := in.Run(); r != nil && len(r.Files) > 0 {
				return true
			}
			if c, ok := in.Command.(*instructions.CopyCommand); ok && (c.Link || c.Parents || len(c.SourceContents) > 0) {
				return true
			}
		}
	}
	return false
}

func (a *analysis) run() {
	for _, st := range a.b.Stages {
		f := &stageFacts{user: "root"}
		if st.BaseStage >= 0 {
			base := a.facts[st.BaseStage]
			*f = *base
			f.copies = slices.Clone(base.copies)
			f.mods = modSet{}
		}
		a.facts = append(a.facts, f)
		a.walkStage(st, f)
	}
	a.checkCgo()
	a.checkToolchain()
	a.checkDepsImage()
	a.checkBuildCache()
}

// checkBuildCache runs CC012: every go build of the module's packages
// against the build settings recorded in the deps image.
func (a *analysis) checkBuildCache() {
	cache := a.o.depsSettings
	if cache == nil {
		return
	}
	for _, gb := range a.b.GoBuilds() {
		in := gb.Instruction
		if hasCacheMount(in.Mounts(), gb.Settings.GoCache) {
			a.add(ruleBuildCacheMismatch, gb.Stage, in.Line, in.EndLine,
				fmt.Sprintf("go %s runs with a cache mount on GOCACHE %s, which hides the build cache of the deps image: every dependency is compiled again unless the mount already holds it", gb.Command, gb.Settings.GoCache),
				fmt.Sprintf("remove --mount=type=cache,target=%s from this RUN when building FROM the deps image", gb.Settings.GoCache))
		}
		mm := gb.Settings.Mismatches(*cache)
		if len(mm) == 0 {
			continue
		}
		a.add(ruleBuildCacheMismatch, gb.Stage, in.Line, in.EndLine,
			fmt.Sprintf("go %s does not match the build cache of the deps image, so it compiles every dependency again: %s", gb.Command, strings.Join(mm, "; ")),
			fmt.Sprintf("build with the settings the cache was made for (%s), or warm the deps image again with cachecheck warm --build-cache --build-flags '%s'", cache, gb.Settings.BuildFlags()))
	}
}

func (a *analysis) walkStage(st *Stage, f *stageFacts) {
	for _, in := range st.Instructions {
		switch c := in.Command.(type) {
		case *instructions.UserCommand:
			f.user = c.User
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				v := ""
				if kv.Value != nil {
					v = *kv.Value
				}
				a.checkCredentialVar(st, in, "ARG", kv.Key, v)
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				a.checkCredentialVar(st, in, "ENV", kv.Key, kv.Value)
			}
		case *instructions.CopyCommand, *instructions.AddCommand:
			ci, _ := in.Copy()
			if !ci.FromContext() || ci.Inline {
				continue
			}
			files, _ := a.b.Sources(in)
			cf := copyFact{in: in, files: files}
			for _, s := range ci.Sources {
				if !isURL(s) {
					cf.srcs = append(cf.srcs, CleanSource(s))
				}
			}
			f.copies = append(f.copies, cf)
			a.checkDockerignore(st, in, cf)
		case *instructions.RunCommand:
			a.checkRun(st, in, f)
		}
	}
}

// copied reports whether the context path name was copied by the copies
// (and is not left out by .dockerignore).
func (a *analysis) copied(copies []copyFact, name string) bool {
	if a.b.Excluded(name) {
		return false
	}
	for _, c := range copies {
		for _, s := range c.srcs {
			if Covers(s, name) {
				return true
			}
		}
	}
	return false
}

// modFiles returns the go.mod and go.work files of the context that the
// copies put into the image, in order.
func (a *analysis) modFiles(copies []copyFact) []string {
	var m modSet
	a.addModFiles(&m, copies)
	return m.files
}

// stageMods returns modFiles(f.copies), computed on the copies added
// since the last call only: a RUN after every COPY of a long Dockerfile
// would otherwise make the analysis quadratic.
func (a *analysis) stageMods(f *stageFacts) []string {
	a.addModFiles(&f.mods, f.copies[f.mods.n:])
	f.mods.n = len(f.copies)
	return f.mods.files
}

// modSet is the result of modFiles on the first n copies of a stage.
type modSet struct {
	n     int
	files []string
	seen  map[string]bool
}

func (a *analysis) addModFiles(m *modSet, copies []copyFact) {
	addFile := func(p string) {
		base := path.Base(p)
		if base != "go.mod" && base != "go.work" || m.seen[p] {
			return
		}
		for _, part := range strings.Split(path.Dir(p), "/") {
			if part == "vendor" || part == "testdata" || strings.HasPrefix(part, ".") && part != "." || strings.HasPrefix(part, "_") {
				return
			}
		}
		if m.seen == nil {
			m.seen = map[string]bool{}
		}
		m.seen[p] = true
		m.files = append(m.files, p)
	}
	for _, c := range copies {
		for _, p := range c.files {
			addFile(p)
		}
		for _, s := range c.srcs {
			if !strings.ContainsAny(s, "*?[") && !a.b.Excluded(s) {
				addFile(s)
			}
		}
	}
}

// modInfo is a parsed go.mod or go.work from the context.
type modInfo struct {
	path string
	mod  *modfile.File
	work *modfile.WorkFile
}

func (a *analysis) readMod(p string) *modInfo {
	if m, ok := a.mods[p]; ok {
		return m
	}
	m := &modInfo{path: p}
	a.mods[p] = m
	if a.b.Context == nil {
		return m
	}
	data, err := fs.ReadFile(a.b.Context, p)
	if err != nil {
		return m
	}
	if path.Base(p) == "go.work" {
		m.work, _ = modfile.ParseWork(p, data, nil)
	} else {
		// Parse keeps the replace directives that ParseLax drops.
		if m.mod, err = modfile.Parse(p, data, nil); err != nil {
			m.mod, _ = modfile.ParseLax(p, data, nil)
		}
	}
	return m
}

func (m *modInfo) goVersion() string {
	switch {
	case m.mod != nil && m.mod.Go != nil:
		return m.mod.Go.Version
	case m.work != nil && m.work.Go != nil:
		return m.work.Go.Version
	}
	return ""
}

// required returns the Go version the module needs (the newer of the go
// and toolchain directives) and the directive's line.
func (m *modInfo) required() (gosettings.Version, int, bool) {
	var best gosettings.Version
	var line int
	found := false
	consider := func(s string, l int) {
		if v, ok := gosettings.ParseVersion(s); ok && (!found || best.Compare(v) < 0) {
			best, line, found = v, l, true
		}
	}
	switch {
	case m.mod != nil:
		if m.mod.Go != nil {
			consider(m.mod.Go.Version, m.mod.Go.Syntax.Start.Line)
		}
		if m.mod.Toolchain != nil {
			consider(m.mod.Toolchain.Name, m.mod.Toolchain.Syntax.Start.Line)
		}
	case m.work != nil:
		if m.work.Go != nil {
			consider(m.work.Go.Version, m.work.Go.Syntax.Start.Line)
		}
		if m.work.Toolchain != nil {
			consider(m.work.Toolchain.Name, m.work.Toolchain.Syntax.Start.Line)
		}
	}
	return best, line, found
}

// go114 is the first Go version that builds from vendor/ when it is there.
var go114, _ = gosettings.ParseVersion("1.14")

// vendored reports whether the module of go.mod p builds from vendor/: a
// vendor/modules.txt in the context and go 1.14 or later.
func (a *analysis) vendored(p string) bool {
	if path.Base(p) != "go.mod" || !a.b.Has(path.Join(path.Dir(p), "vendor/modules.txt")) {
		return false
	}
	v, ok := gosettings.ParseVersion(a.readMod(p).goVersion())
	return ok && v.Compare(go114) >= 0
}

// scopeVar returns the value of variable k for a RUN: ENV wins over ARG.
func scopeVar(in *Instruction, k string) (string, bool) {
	if v, ok := in.Env[k]; ok {
		return v, true
	}
	v, ok := in.Args[k]
	return v, ok
}

func (a *analysis) checkRun(st *Stage, in *Instruction, f *stageFacts) {
	script := in.Script()
	a.checkCredentialRun(st, in, script)
	calls := goCalls(script)
	if len(calls) == 0 {
		return
	}
	modcache, gocache, uid := cacheDirs(in, f.user)
	mounts := in.Mounts()
	goflags, _ := scopeVar(in, "GOFLAGS")
	for _, c := range calls {
		switch {
		case isDownload(c):
			if f.download != nil {
				continue
			}
			f.download = in
			f.dlMount = hasCacheMount(mounts, modcache)
			a.checkDownload(st, in, f, c, goflags+" "+script)
			if a.buildKit && !f.dlMount {
				a.add(ruleNoCacheMount, st, in.Line, in.EndLine,
					fmt.Sprintf("go mod download runs without a cache mount on the module cache %s%s", modcache, otherMounts(mounts)),
					fmt.Sprintf("add --mount=type=cache,target=%s%s to this RUN", modcache, uid))
			}
		case isBuild(c):
			a.checkBuild(st, in, f, c, goflags+" "+script, mounts, modcache, gocache, uid)
		}
	}
}

func cacheDirs(in *Instruction, user string) (modcache, gocache, uidOpt string) {
	home, ok := scopeVar(in, "HOME")
	uidOpt = ""
	if !ok || home == "" {
		name, _, _ := strings.Cut(user, ":")
		switch n, err := strconv.Atoi(name); {
		case name == "" || name == "root" || err == nil && n == 0:
			home = "/root"
		case err == nil:
			home = "/"
			uidOpt = ",uid=" + name
		default:
			home = "/home/" + name
			uidOpt = ",uid=<uid of " + name + ">"
		}
	} else if name, _, _ := strings.Cut(user, ":"); name != "" && name != "root" && name != "0" {
		uidOpt = ",uid=" + name
		if _, err := strconv.Atoi(name); err != nil {
			uidOpt = ",uid=<uid of " + name + ">"
		}
	}
	if v, ok := scopeVar(in, "GOMODCACHE"); ok && v != "" {
		modcache = v
	} else if v, ok := scopeVar(in, "GOPATH"); ok && v != "" {
		first, _, _ := strings.Cut(v, ":")
		modcache = path.Join(first, "pkg/mod")
	} else {
		modcache = path.Join(home, "go/pkg/mod")
	}
	if v, ok := scopeVar(in, "GOCACHE"); ok && v != "" {
		gocache = v
	} else if v, ok := scopeVar(in, "XDG_CACHE_HOME"); ok && v != "" {
		gocache = path.Join(v, "go-build")
	} else {
		gocache = path.Join(home, ".cache/go-build")
	}
	return modcache, gocache, uidOpt
}

func hasCacheMount(mounts []*instructions.Mount, target string) bool {
	for _, m := range mounts {
		if m.Type == instructions.MountTypeCache && path.Clean(m.Target) == path.Clean(target) {
			return true
		}
	}
	return false
}

// otherMounts describes cache mounts on other directories, which are often
// a mismatched GOMODCACHE or GOCACHE.
func otherMounts(mounts []*instructions.Mount) string {
	var t []string
	for _, m := range mounts {
		if m.Type == instructions.MountTypeCache {
			t = append(t, m.Target)
		}
	}
	if len(t) == 0 {
		return ""
	}
	return fmt.Sprintf(" (the cache mount on %s is elsewhere)", strings.Join(t, ", "))
}

// checkDownload runs the rules about the download step: CC001, CC002,
// CC004 and the download half of CC005.
func (a *analysis) checkDownload(st *Stage, in *Instruction, f *stageFacts, c goCall, flags string) {
	// CC001: source copied before the download.
	for _, cf := range f.copies {
		if a.copiesSource(cf) {
			a.add(ruleSourceBeforeDownload, st, cf.in.Line, cf.in.EndLine,
				fmt.Sprintf("%q copies source code before go mod download at line %d: every code change downloads all modules again", cf.in.Text, in.Line),
				"copy only the module files first (COPY go.mod go.sum ./), RUN go mod download, then copy the source")
			break
		}
	}
	mods := a.stageMods(f)
	// CC002: go.sum or go.work.sum left behind.
	for _, p := range mods {
		sum := strings.TrimSuffix(p, path.Base(p)) + map[string]string{"go.mod": "go.sum", "go.work": "go.work.sum"}[path.Base(p)]
		if a.copied(f.copies, sum) {
			continue
		}
		cp := a.copyOf(f.copies, p)
		exists := a.existsInContext(sum)
		switch {
		case exists && a.b.Excluded(sum):
			a.add(ruleSumMissing, st, cp.Line, cp.EndLine,
				fmt.Sprintf("%s is copied but %s is excluded by %s before go mod download at line %d", p, sum, a.b.IgnoreFile, in.Line),
				fmt.Sprintf("remove the pattern that matches %s from %s", sum, a.b.IgnoreFile))
		case exists:
			a.add(ruleSumMissing, st, cp.Line, cp.EndLine,
				fmt.Sprintf("%s is copied without %s before go mod download at line %d", p, sum, in.Line),
				fmt.Sprintf("copy both: COPY %s %s %s", p, sum, destOf(cp)))
		case path.Base(p) == "go.mod" && a.b.Context != nil:
			if m := a.readMod(p); m.mod != nil && len(m.mod.Require) > 0 {
				a.add(ruleSumMissing, st, cp.Line, cp.EndLine,
					fmt.Sprintf("%s has requirements but there is no %s in the build context: the download cannot be verified", p, sum),
					fmt.Sprintf("run go mod tidy, commit %s and copy it with %s", sum, p))
			}
		case a.b.Context == nil && path.Base(p) == "go.mod":
			a.add(ruleSumMissing, st, cp.Line, cp.EndLine,
				fmt.Sprintf("%s is copied without %s before go mod download at line %d", p, sum, in.Line),
				fmt.Sprintf("copy both: COPY %s %s %s", p, sum, destOf(cp)))
		}
	}
	// CC004: local replacements and workspace modules.
	for _, p := range mods {
		a.checkLocalDirs(st, in, f, p)
	}
	// CC005: vendor/ in use but the Dockerfile downloads.
	if !strings.Contains(c.args+" "+flags, "-mod=mod") {
		for _, p := range mods {
			if a.vendored(p) {
				a.add(ruleVendorMismatch, st, in.Line, in.EndLine,
					fmt.Sprintf("%s is in the build context, so go builds from vendor/; go mod download fetches modules the build does not use", path.Join(path.Dir(p), "vendor/modules.txt")),
					"remove the go mod download step (and the module cache mount); copy vendor/ with the source")
				break
			}
		}
	}
}

// copiesSource reports whether a copy brings Go source into the image:
// the whole context, or a .go file outside vendor/.
func (a *analysis) copiesSource(cf copyFact) bool {
	for _, s := range cf.srcs {
		if s == "." {
			return true
		}
	}
	for _, p := range cf.files {
		if strings.HasSuffix(p, ".go") && !strings.HasPrefix(p, "vendor/") && !strings.Contains(p, "/vendor/") {
			return true
		}
	}
	return false
}

func (a *analysis) copyOf(copies []copyFact, p string) *Instruction {
	for _, c := range copies {
		for _, s := range c.srcs {
			if Covers(s, p) {
				return c.in
			}
		}
	}
	return copies[0].in
}

func destOf(in *Instruction) string {
	if c, ok := in.Copy(); ok && c.Dest != "" {
		return c.Dest
	}
	return "./"
}

func (a *analysis) existsInContext(p string) bool {
	if a.b.Context == nil {
		return false
	}
	_, err := fs.Stat(a.b.Context, p)
	return err == nil
}

// checkLocalDirs reports the local replace directories of go.mod p, or the
// use directories of go.work p, that are not in the image at the download.
func (a *analysis) checkLocalDirs(st *Stage, in *Instruction, f *stageFacts, p string) {
	m := a.readMod(p)
	type dirRef struct {
		dir, what string
		line      int
	}
	var refs []dirRef
	if m.mod != nil {
		for _, r := range m.mod.Replace {
			if modfile.IsDirectoryPath(r.New.Path) {
				refs = append(refs, dirRef{r.New.Path, "replace " + r.Old.Path + " => " + r.New.Path, r.Syntax.Start.Line})
			}
		}
	}
	if m.work != nil {
		for _, u := range m.work.Use {
			refs = append(refs, dirRef{u.Path, "use " + u.Path, u.Syntax.Start.Line})
		}
		for _, r := range m.work.Replace {
			if modfile.IsDirectoryPath(r.New.Path) {
				refs = append(refs, dirRef{r.New.Path, "replace " + r.Old.Path + " => " + r.New.Path, r.Syntax.Start.Line})
			}
		}
	}
	for _, r := range refs {
		where := fmt.Sprintf("%s:%d: %s", p, r.line, r.what)
		if path.IsAbs(r.dir) || strings.HasPrefix(r.dir, `\`) {
			a.add(ruleLocalReplace, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: an absolute path is never in the build context", where),
				"make the path relative to the module and keep the directory inside the build context")
			continue
		}
		dir := path.Join(path.Dir(p), r.dir)
		if dir == ".." || strings.HasPrefix(dir, "../") {
			a.add(ruleLocalReplace, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s lies outside the build context, so go mod download fails", where, dir),
				"build from a context that contains both directories (docker build -f <dir>/Dockerfile <common parent>) or publish the module and require a version")
			continue
		}
		gomod := path.Join(dir, "go.mod")
		if a.copied(f.copies, gomod) {
			continue
		}
		switch {
		case a.existsInContext(gomod) && a.b.Excluded(gomod):
			a.add(ruleLocalReplace, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s is excluded by %s, so go mod download fails", where, gomod, a.b.IgnoreFile),
				fmt.Sprintf("add !%s to %s", dir, a.b.IgnoreFile))
		case a.b.Context != nil && !a.existsInContext(gomod):
			a.add(ruleLocalReplace, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s is not in the build context, so go mod download fails", where, gomod),
				fmt.Sprintf("add %s to the build context, or remove the %s line", gomod, strings.Fields(r.what)[0]))
		default:
			files := gomod
			if sum := path.Join(dir, "go.sum"); a.b.Has(sum) {
				files += " " + sum
			}
			a.add(ruleLocalReplace, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s is not copied before go mod download at line %d: a cold build fails while a warm cache hides it", where, gomod, in.Line),
				fmt.Sprintf("COPY %s %s/ before line %d", files, path.Join(strings.TrimSuffix(destOf(a.copyOf(f.copies, p)), "/"), dir), in.Line))
		}
	}
}

var modVendorRE = regexp.MustCompile(`-mod[= ]vendor\b`)

// checkBuild runs the rules about a go build: CC003, the -mod=vendor half
// of CC005 and the build half of CC006.
func (a *analysis) checkBuild(st *Stage, in *Instruction, f *stageFacts, c goCall, flags string, mounts []*instructions.Mount, modcache, gocache, uid string) {
	mods := a.stageMods(f)
	vendored := false
	for _, p := range mods {
		vendored = vendored || a.vendored(p)
	}
	modVendor := modVendorRE.MatchString(c.args + " " + flags)
	if modVendor && !vendored && len(mods) > 0 {
		a.addSev(ruleVendorMismatch, reports.Error, st, in.Line, in.EndLine,
			fmt.Sprintf("go %s uses -mod=vendor but there is no vendor/modules.txt beside %s in the build context", c.sub, mods[0]),
			"run go mod vendor and commit vendor/ (and do not exclude it in .dockerignore), or drop -mod=vendor and download modules")
	}
	if f.download == nil && !vendored && !modVendor && len(mods) > 0 && !f.built {
		f.built = true
		a.add(ruleNoDownloadStep, st, in.Line, in.EndLine,
			fmt.Sprintf("go %s fetches modules itself after the source is copied: every code change downloads all modules again", c.sub),
			fmt.Sprintf("before copying the source: COPY %s ./ and RUN go mod download", strings.Join(a.moduleFilesFor(mods), " ")))
	}
	if !a.buildKit {
		return
	}
	var need []string
	if !hasCacheMount(mounts, gocache) {
		need = append(need, "--mount=type=cache,target="+gocache+uid)
	}
	needMod := !vendored && !modVendor && (f.download == nil || f.dlMount) && !hasCacheMount(mounts, modcache)
	if needMod {
		need = append([]string{"--mount=type=cache,target=" + modcache + uid}, need...)
	}
	if len(need) == 0 {
		return
	}
	sev := ruleNoCacheMount.Severity
	msg := fmt.Sprintf("go %s runs without a cache mount on %s", c.sub, strings.Join(mountTargets(need), " and "))
	if needMod && f.download != nil && f.dlMount {
		sev = reports.Warning
		msg = fmt.Sprintf("go mod download at line %d kept the modules in a cache mount, not in the image; go %s without the same mount on %s downloads them again", f.download.Line, c.sub, modcache)
	}
	a.addSev(ruleNoCacheMount, sev, st, in.Line, in.EndLine, msg+otherMounts(mounts), "add "+strings.Join(need, " ")+" to this RUN")
}

func mountTargets(flags []string) []string {
	var out []string
	for _, f := range flags {
		t := strings.TrimPrefix(f, "--mount=type=cache,target=")
		t, _, _ = strings.Cut(t, ",")
		out = append(out, t)
	}
	return out
}

// moduleFilesFor lists the module files to copy before the download.
func (a *analysis) moduleFilesFor(mods []string) []string {
	var out []string
	for _, p := range mods {
		out = append(out, p)
		sum := strings.TrimSuffix(p, path.Base(p)) + map[string]string{"go.mod": "go.sum", "go.work": "go.work.sum"}[path.Base(p)]
		if a.b.Context == nil && path.Base(p) == "go.mod" || a.b.Has(sum) {
			out = append(out, sum)
		}
		if len(out) >= 4 {
			break
		}
	}
	return out
}

var (
	credNameRE = regexp.MustCompile(`(?i)(^|_)(TOKEN|PASSWORD|PASSWD|PASS|PWD|SECRET|CREDENTIALS?|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|NETRC|AUTH|PAT)($|_)`)
	credURLRE  = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@`)
	tokenURLRE = regexp.MustCompile(`https?://[^\s/"']*\$\{?\w+\}?[^\s/"']*@`)
	netrcRE    = regexp.MustCompile(`(>>?|\btee\b|\bcp\b|\bmv\b|\binstall\b)[^;&|\n]*\.netrc\b`)
)

func (a *analysis) checkCredentialVar(st *Stage, in *Instruction, kind, key, value string) {
	switch {
	case credNameRE.MatchString(key) && key != "PWD":
		a.add(ruleCredential, st, in.Line, in.EndLine,
			fmt.Sprintf("%s %s passes a credential: its value stays in the image history and the build cache", kind, key),
			fmt.Sprintf("RUN --mount=type=secret,id=%s,env=%s … and build with --secret id=%s,env=%s", strings.ToLower(key), key, strings.ToLower(key), key))
	case credURLRE.MatchString(value):
		a.add(ruleCredential, st, in.Line, in.EndLine,
			fmt.Sprintf("%s %s holds a URL with a user and password: it stays in the image history", kind, key),
			"put the credentials in a .netrc passed with RUN --mount=type=secret,id=netrc,target=/root/.netrc")
	}
}

func (a *analysis) checkCredentialRun(st *Stage, in *Instruction, script string) {
	for _, m := range in.Mounts() {
		if m.Type == instructions.MountTypeSecret {
			return
		}
	}
	home := "/root"
	if h, ok := scopeVar(in, "HOME"); ok && h != "" {
		home = h
	}
	switch {
	case netrcRE.MatchString(script):
		a.add(ruleCredential, st, in.Line, in.EndLine,
			"RUN writes a .netrc: the credentials stay in the layer even if a later step deletes the file",
			fmt.Sprintf("mount it for the one step that needs it: RUN --mount=type=secret,id=netrc,target=%s/.netrc go mod download, built with --secret id=netrc,src=$HOME/.netrc", home))
	case tokenURLRE.MatchString(script):
		a.add(ruleCredential, st, in.Line, in.EndLine,
			"RUN puts a token into a URL (git config insteadOf or similar): it stays in the layer and the image history",
			"RUN --mount=type=secret,id=netrc,target="+home+"/.netrc go mod download, with the token in the .netrc")
	}
}

func (a *analysis) checkDockerignore(st *Stage, in *Instruction, cf copyFact) {
	if !slices.Contains(cf.srcs, ".") {
		return
	}
	switch {
	case a.b.Ignore == nil:
		a.add(ruleDockerignore, st, in.Line, in.EndLine,
			fmt.Sprintf("%q copies the whole context and there is no .dockerignore: .git and build outputs bust the cache of this layer on every commit", in.Text),
			"add a .dockerignore with at least: .git")
	case !a.b.Excluded(".git"):
		a.add(ruleDockerignore, st, in.Line, in.EndLine,
			fmt.Sprintf("%q copies the whole context and %s does not exclude .git: every commit busts the cache of this layer", in.Text, a.b.IgnoreFile),
			fmt.Sprintf("add the line .git to %s", a.b.IgnoreFile))
	}
}

// rootImage follows a stage's bases to the image it starts from.
func (a *analysis) rootImage(st *Stage) *Stage {
	for i := 0; st.BaseStage >= 0 && i < len(a.b.Stages); i++ {
		st = a.b.Stages[st.BaseStage]
	}
	return st
}

func isStaticBase(ref string) bool {
	name, _ := splitImage(ref)
	return name == "scratch" || strings.Contains(name, "distroless/static") || strings.HasSuffix(name, "chainguard/static")
}

var (
	cgoOffRE   = regexp.MustCompile(`\bCGO_ENABLED=0\b|-extldflags[= ]+['"]?-static|\bnetgo\b.*\bosusergo\b`)
	installCRE = regexp.MustCompile(`\b(apk|apt-get|apt|dnf|yum|microdnf)\b[^;&|\n]*\b(gcc|build-base|build-essential|clang|musl-dev)\b`)
)

// checkCgo runs CC008 on the target stage.
func (a *analysis) checkCgo() {
	target := a.b.Target()
	if !isStaticBase(a.rootImage(target).Base) {
		return
	}
	done := map[int]bool{}
	for _, in := range target.Instructions {
		c, ok := in.Copy()
		if !ok || c.From == "" {
			continue
		}
		src := a.b.Stage(c.From)
		if src == nil || src.Index >= target.Index || done[src.Index] {
			continue
		}
		done[src.Index] = true
		chain := []*Stage{src}
		for s := src; s.BaseStage >= 0 && len(chain) <= len(a.b.Stages); {
			s = a.b.Stages[s.BaseStage]
			chain = append([]*Stage{s}, chain...)
		}
		root := chain[0]
		name, tag := splitImage(root.Base)
		hasCC := !(name == "golang" && strings.Contains(tag, "alpine"))
		for _, s := range chain {
			for _, in := range s.Instructions {
				if installCRE.MatchString(in.Script()) {
					hasCC = true
				}
			}
		}
		if !hasCC {
			continue
		}
		for _, s := range chain {
			for _, bin := range s.Instructions {
				script := bin.Script()
				var build *goCall
				for _, gc := range goCalls(script) {
					if gc.sub == "build" || gc.sub == "install" && !strings.Contains(gc.args, "@") {
						build = &gc
						break
					}
				}
				if build == nil {
					continue
				}
				if v, _ := scopeVar(bin, "CGO_ENABLED"); v == "0" || cgoOffRE.MatchString(script) {
					continue
				}
				a.add(ruleCgoStatic, s, bin.Line, bin.EndLine,
					fmt.Sprintf("go %s leaves cgo enabled (%s has a C compiler) but the final stage runs on %s: a binary using net or os/user will not start", build.sub, root.Base, a.rootImage(target).Base),
					fmt.Sprintf("build with CGO_ENABLED=0: RUN CGO_ENABLED=0 go %s …, or ENV CGO_ENABLED=0 in stage %s", build.sub, s.Ref()))
			}
		}
	}
}

// checkToolchain runs CC010 on every stage that builds or downloads.
func (a *analysis) checkToolchain() {
	reported := map[int]bool{}
	for i, st := range a.b.Stages {
		for _, in := range st.Instructions {
			calls := goCalls(in.Script())
			if len(calls) == 0 {
				continue
			}
			root := a.rootImage(st)
			name, tag := splitImage(root.Base)
			if name != "golang" || reported[root.Index] {
				break
			}
			have, ok := gosettings.ParseVersion(tag)
			if !ok {
				break
			}
			if v, ok := scopeVar(in, "GOTOOLCHAIN"); ok && v != "" || strings.Contains(in.Script(), "GOTOOLCHAIN=") {
				break
			}
			// The module files in the image when the first go command runs.
			copies := a.facts[i].copies
			var upto []copyFact
			for _, c := range copies {
				if c.in.Line < in.Line {
					upto = append(upto, c)
				}
			}
			for _, p := range a.modFiles(upto) {
				need, line, ok := a.readMod(p).required()
				if !ok || !imageOlder(have, need) {
					continue
				}
				reported[root.Index] = true
				suffix := ""
				if j := strings.IndexByte(tag, '-'); j >= 0 {
					suffix = tag[j:]
				}
				fix := fmt.Sprintf("FROM golang:%s%s", need.Lang(), suffix)
				if root.Name != "" {
					fix += " AS " + root.Name
				}
				if m := argRefRE.FindStringSubmatch(root.Text); m != nil {
					fix = fmt.Sprintf("ARG %s=%s before the first FROM (the image becomes golang:%s%s)", m[1], need.Lang(), need.Lang(), suffix)
				}
				a.add(ruleToolchain, root, root.Line, root.EndLine,
					fmt.Sprintf("%s:%d needs Go %s but %s has Go %s and GOTOOLCHAIN is unset: the go command downloads Go %s on every cold build", p, line, need, root.Base, strings.TrimSuffix(tag, suffix), need),
					fix)
				break
			}
			break
		}
	}
}

// checkDepsImage runs CC011: the stage that downloads modules (or else the
// first that builds) could start from the dependency image.
func (a *analysis) checkDepsImage() {
	ref := a.o.depsImage
	if ref == "" {
		return
	}
	var builder *Stage
	var step *Instruction
	for _, want := range []func(goCall) bool{isDownload, isBuild} {
		for _, st := range a.b.Stages {
			for _, in := range st.Instructions {
				if builder == nil && slices.ContainsFunc(goCalls(in.Script()), want) {
					builder, step = st, in
				}
			}
		}
	}
	if builder == nil {
		return
	}
	root := a.rootImage(builder)
	if root.Base == ref || strings.Contains(root.Text, "DEPS_IMAGE") {
		return
	}
	from := "FROM "
	if root.Platform != "" {
		from += "--platform=" + root.Platform + " "
	}
	as := ""
	if root.Name != "" {
		as = " AS " + root.Name
	}
	a.add(ruleDepsImage, root, root.Line, root.EndLine,
		fmt.Sprintf("stage %s starts from %s and runs go at line %d; the dependency image %s already holds the module cache", root.Ref(), root.Base, step.Line, ref),
		fmt.Sprintf("%s%s%s (or ARG DEPS_IMAGE=%s before the first FROM and %s${DEPS_IMAGE}%s)", from, ref, as, ref, from, as))
}

var argRefRE = regexp.MustCompile(`\$\{?(\w+)`)

var ignoreRE = regexp.MustCompile(`^\s*#.*\bcachecheck:ignore\b(.*)$`)

// ignoreComments maps line numbers to the rule IDs their
// "# cachecheck:ignore ID[,ID...]" comment silences.
func ignoreComments(lines []string) map[int]map[string]bool {
	out := map[int]map[string]bool{}
	for i, l := range lines {
		m := ignoreRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ids := map[string]bool{}
		for _, w := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if r := LookupRule(w); r != nil {
				ids[r.ID] = true
			}
		}
		out[i+1] = ids
	}
	return out
}

// silenced reports whether an ignore comment in the comment block right
// above the finding's instruction, or inside it, names the finding's rule.
func silenced(ignored map[int]map[string]bool, lines []string, f Finding) bool {
	if len(ignored) == 0 {
		return false
	}
	for l := f.Line; l <= f.EndLine; l++ {
		if ignored[l][f.Rule] {
			return true
		}
	}
	for l := f.Line - 1; l >= 1 && l <= len(lines); l-- {
		t := strings.TrimSpace(lines[l-1])
		if !strings.HasPrefix(t, "#") {
			break
		}
		if ignored[l][f.Rule] {
			return true
		}
	}
	return false
}
