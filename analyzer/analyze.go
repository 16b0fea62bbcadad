package analyzer

import (
	"cmp"
	"fmt"
	"io/fs"
	"maps"
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
	var causes []string
	seen := map[string]bool{}
	for i, f := range a.findings {
		key := fmt.Sprintf("%s:%d:%s", f.Rule, f.Line, f.Message)
		if o.disabled[f.Rule] || seen[key] || silenced(ignored, b.Lines, f) {
			continue
		}
		seen[key] = true
		out = append(out, f)
		causes = append(causes, a.causes[i])
	}
	out = a.mergeCauses(out, causes)
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
	// causes holds the cause of a finding, by its index, when other
	// findings may share it (see because and mergeCauses).
	causes  map[int]string
	facts   []*stageFacts
	mods    map[string]*modInfo
	workdir map[*Instruction]string // see computeWorkdirs
	images  map[imageKey]*imageFacts
	gits    *[]string // gitDirs, once listed
}

type imageKey struct{ ref, platform string }

// imageFacts is what is known of a base image's environment.
type imageFacts struct {
	env  map[string]string
	user string
	// known is false when env is a guess: the config was not read.
	known bool
}

// image returns what is known of the environment of the image stage root
// starts from, reading its config once through WithImageConfig.
func (a *analysis) image(root *Stage) *imageFacts {
	k := imageKey{root.Base, root.Platform}
	if im, ok := a.images[k]; ok {
		return im
	}
	im := &imageFacts{env: imageEnv(root.Base)}
	switch {
	case isDockerHubGolang(root.Base):
		im.known = true
	case a.o.imageConfig != nil && root.Base != "scratch" && !strings.Contains(root.Base+root.Platform, "$"):
		if c, err := a.o.imageConfig(root.Base, root.Platform); err == nil && c != nil {
			im.env, im.user, im.known = map[string]string{}, c.User, true
			for _, kv := range c.Env {
				if k, v, ok := strings.Cut(kv, "="); ok {
					im.env[k] = v
				}
			}
			break
		}
		fallthrough
	default:
		if a.isDepsImage(root) {
			// As internal/depsimage writes its config.
			im.env, im.known = map[string]string{"GOPATH": "/go", "GOMODCACHE": "/go/pkg/mod"}, true
		}
	}
	if a.images == nil {
		a.images = map[imageKey]*imageFacts{}
	}
	a.images[k] = im
	return im
}

// isDepsImage reports whether the image stage root starts from the
// dependency image of WithDepsImage: that image, another tag of its
// repository, or a FROM naming DEPS_IMAGE.
func (a *analysis) isDepsImage(root *Stage) bool {
	ref := a.o.depsImage
	if ref == "" || root.BaseStage >= 0 {
		return false
	}
	return root.Base == ref || imageRepo(root.Base) == imageRepo(ref) || strings.Contains(root.Text, "DEPS_IMAGE")
}

// stageFacts is what a stage has done by its end, including what it
// inherited from the stage it is built on.
type stageFacts struct {
	copies   []copyFact
	download *Instruction    // the first go mod download in the chain
	dlMount  bool            // the download used a module cache mount
	built    bool            // a go build ran (CC003 is reported once)
	user     string          // the USER in effect; "" for the image's
	envSet   map[string]bool // the variables an ENV instruction set
	fromDeps bool            // the stage starts from the deps image
	workdir  string          // the WORKDIR in effect, absolute; "" for /
	replaced bool            // CC004 ran for a build without a download
	gitSent  map[string]bool // the .git directories CC009 reported
	// vendorEarly is a go mod vendor run before any source was copied:
	// it vendored no package, but vendor/ exists for the builds after it.
	vendorEarly *Instruction
	// modChecked are the directories whose builds checkDownloadedModule
	// looked at.
	modChecked map[string]bool
	mods       modSet // the module files of copies, see stageMods
}

type copyFact struct {
	in      *Instruction
	srcs    []string // cleaned context paths
	files   []string // context files copied
	dest    string   // the destination in the image, absolute
	rawDest string   // the destination as written
}

// because records the cause of the last finding: the findings of one
// rule with the same cause are reported as one (mergeCauses).
func (a *analysis) because(format string, args ...any) {
	if a.causes == nil {
		a.causes = map[int]string{}
	}
	a.causes[len(a.findings)-1] = fmt.Sprintf(format, args...)
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
	a.computeWorkdirs()
	for _, st := range a.b.Stages {
		f := &stageFacts{}
		if st.BaseStage >= 0 {
			base := a.facts[st.BaseStage]
			*f = *base
			f.copies = slices.Clone(base.copies)
			f.mods = modSet{}
			f.envSet = maps.Clone(base.envSet)
			f.gitSent = maps.Clone(base.gitSent)
		}
		f.fromDeps = a.isDepsImage(a.rootImage(st))
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
	caches := a.o.depsSettings
	if len(caches) == 0 {
		return
	}
	var marks []buildMark
	defer func() { a.locateBuilds(marks) }()
	for _, gb := range a.b.GoBuilds() {
		marks = append(marks, buildMark{len(a.findings), gb})
		in := gb.Instruction
		if hasCacheMount(in.Mounts(), gb.Settings.GoCache) {
			msg := fmt.Sprintf("go %s runs with a cache mount on GOCACHE %s, which hides the build cache of the deps image: every dependency is compiled again unless the mount already holds it", gb.Command, gb.Settings.GoCache)
			if edits, ok := a.dropMountEdit(in, gb.Settings.GoCache); ok {
				a.addFix(ruleBuildCacheMismatch, ruleBuildCacheMismatch.Severity, gb.Stage, in.Line, in.EndLine, msg, edits, "")
			} else {
				a.add(ruleBuildCacheMismatch, gb.Stage, in.Line, in.EndLine, msg,
					fmt.Sprintf("remove --mount=type=cache,target=%s from this RUN when building FROM the deps image", gb.Settings.GoCache))
			}
			a.because("GOCACHE mount %s in stage %s", gb.Settings.GoCache, gb.Stage.Ref())
		}
		cache := caches[0]
		for _, c := range caches {
			if c.GOOS == gb.Settings.GOOS && c.GOARCH == gb.Settings.GOARCH {
				cache = c
				break
			}
		}
		mm := gb.Settings.Mismatches(cache)
		if len(mm) == 0 {
			continue
		}
		a.add(ruleBuildCacheMismatch, gb.Stage, in.Line, in.EndLine,
			fmt.Sprintf("go %s does not match the build cache of the deps image, so it compiles every dependency again: %s", gb.Command, strings.Join(mm, "; ")),
			fmt.Sprintf("build with the settings the cache was made for (%s), or warm the deps image again with cachecheck warm --build-cache --build-flags '%s'", cache, gb.Settings.BuildFlags()))
		a.because("settings %s in stage %s", strings.Join(mm, "; "), gb.Stage.Ref())
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
				if f.envSet == nil {
					f.envSet = map[string]bool{}
				}
				f.envSet[kv.Key] = true
			}
		case *instructions.WorkdirCommand:
			f.workdir = path.Join("/", f.workdir, c.Path)
			if path.IsAbs(c.Path) {
				f.workdir = path.Clean(c.Path)
			}
		case *instructions.CopyCommand, *instructions.AddCommand:
			ci, _ := in.Copy()
			if !ci.FromContext() || ci.Inline {
				continue
			}
			files, _ := a.b.Sources(in)
			cf := copyFact{in: in, files: files, rawDest: ci.Dest, dest: path.Join("/", f.workdir, ci.Dest)}
			if path.IsAbs(ci.Dest) {
				cf.dest = path.Clean(ci.Dest)
			}
			for _, s := range ci.Sources {
				if !isURL(s) {
					cf.srcs = append(cf.srcs, CleanSource(s))
				}
			}
			f.copies = append(f.copies, cf)
			a.checkDockerignore(st, in, cf, f)
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
	calls := a.b.runCalls(st, in)
	a.checkOpaque(st, in, f, calls)
	if len(calls) == 0 {
		return
	}
	modcache, gocache, uid, assumed := a.cacheDirs(st, in, f)
	mounts := in.Mounts()
	goflags, _ := scopeVar(in, "GOFLAGS")
	if f.fromDeps {
		a.checkDepsMount(st, in, calls[0], mounts, modcache, gocache)
	}
	for _, c := range calls {
		n := len(a.findings)
		script := c.script(script)
		switch {
		case isDownload(c):
			if f.download != nil {
				continue
			}
			f.download = in
			f.dlMount = hasCacheMount(mounts, modcache)
			a.checkDownload(st, in, f, c, goflags+" "+script)
			if a.buildKit && !f.dlMount && !f.fromDeps {
				msg := fmt.Sprintf("go mod download runs without a cache mount on the module cache %s%s%s", modcache, otherMounts(mounts), assumed.note(true, false))
				flag := fmt.Sprintf("--mount=type=cache,target=%s%s", modcache, uid)
				if edits, ok := a.downloadMountFix(st, in, f, flag, modcache); ok {
					a.addFix(ruleNoCacheMount, ruleNoCacheMount.Severity, st, in.Line, in.EndLine, msg, edits, "")
				} else {
					a.add(ruleNoCacheMount, st, in.Line, in.EndLine, msg, fmt.Sprintf("add %s to this RUN", flag))
				}
			}
		case isBuild(c):
			a.checkBuild(st, in, f, c, goflags+" "+script, mounts, cacheDirs{modcache, gocache, uid, assumed})
		}
		a.locate(n, c)
	}
}

// cacheDirs are the module and build cache directories of a RUN and the
// uid option its cache mounts need.
type cacheDirs struct {
	modcache, gocache, uidOpt string
	assumed                   assumption
}

// assumption says which cache directories were not read from the
// Dockerfile or the image config but assumed, and of which image.
type assumption struct {
	modcache, gocache bool
	image             string
}

// note returns the words to add to a message about the module cache
// (mod) and the build cache (build): "" when none of them is assumed.
func (s assumption) note(mod, build bool) string {
	var what []string
	if mod && s.modcache {
		what = append(what, "GOMODCACHE")
	}
	if build && s.gocache {
		what = append(what, "GOCACHE")
	}
	if len(what) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%s assumed: the config of %s was not read)", strings.Join(what, " and "), s.image)
}

// cacheDirs returns GOMODCACHE and GOCACHE for a RUN in stage st, from
// the ENV instructions, the base image's environment and the build
// arguments in that order, then Go's defaults under the user's home.
// checkDepsMount runs the second half of CC011: in a stage that starts
// from the deps image, a cache mount on the module cache (or on GOPATH or
// a parent) hides the modules the image holds.
func (a *analysis) checkDepsMount(st *Stage, in *Instruction, c goCall, mounts []*instructions.Mount, modcache, gocache string) {
	m := cacheMountOn(mounts, modcache)
	if m == nil {
		return
	}
	why := "the modules are in the deps image"
	fix := fmt.Sprintf("drop --mount=type=cache,target=%s from this RUN: %s", m.Target, why)
	keep := ""
	if !hasCacheMount(mounts, gocache) || path.Clean(m.Target) != path.Clean(modcache) {
		keep = fmt.Sprintf("to keep a build cache across builds, mount only GOCACHE: --mount=type=cache,target=%s", gocache)
		fix += "; " + keep
	}
	image := a.rootImage(st).Base
	if image == "" || strings.Contains(image, "$") {
		// FROM ${DEPS_IMAGE} with no value: the image it names.
		image = a.o.depsImage
	}
	msg := fmt.Sprintf("stage %s starts from the deps image %s, but the cache mount on %s hides its module cache %s: go %s starts from the mount's contents, so it downloads every module again, or fails offline", st.Ref(), image, m.Target, modcache, c.sub)
	if edits, ok := a.dropMountEdit(in, m.Target); ok {
		note := why
		if keep != "" {
			note += "; " + keep
		}
		a.addFix(ruleDepsImage, reports.Error, st, in.Line, in.EndLine, msg, edits, note)
	} else {
		a.addSev(ruleDepsImage, reports.Error, st, in.Line, in.EndLine, msg, fix)
	}
	a.because("module cache mount %s in stage %s", path.Clean(m.Target), st.Ref())
}

func (a *analysis) cacheDirs(st *Stage, in *Instruction, f *stageFacts) (modcache, gocache, uidOpt string, assumed assumption) {
	root := a.rootImage(st)
	im := a.image(root)
	// lookup returns the value of k and whether it is known rather than
	// guessed.
	lookup := func(k string) (string, bool, bool) {
		if f.envSet[k] {
			return in.Env[k], true, true
		}
		if v, ok := im.env[k]; ok && v != "" {
			return v, true, im.known
		}
		if v, ok := in.Args[k]; ok && v != "" {
			return v, true, true
		}
		return "", false, im.known
	}
	user := f.user
	if user == "" {
		user = im.user
	}
	home, ok, homeKnown := lookup("HOME")
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
	var known bool
	if v, ok, k := lookup("GOMODCACHE"); ok {
		modcache, known = v, k
	} else if v, ok, k := lookup("GOPATH"); ok {
		first, _, _ := strings.Cut(v, ":")
		modcache, known = path.Join(first, "pkg/mod"), k
	} else {
		modcache, known = path.Join(home, "go/pkg/mod"), homeKnown
	}
	assumed.modcache = !known
	if v, ok, k := lookup("GOCACHE"); ok {
		gocache, known = v, k
	} else if v, ok, k := lookup("XDG_CACHE_HOME"); ok {
		gocache, known = path.Join(v, "go-build"), k
	} else {
		gocache, known = path.Join(home, ".cache/go-build"), homeKnown
	}
	assumed.gocache = !known
	assumed.image = root.Base
	return modcache, gocache, uidOpt, assumed
}

func hasCacheMount(mounts []*instructions.Mount, target string) bool {
	return cacheMountOn(mounts, target) != nil
}

// cacheMountOn returns the cache mount that holds the directory target,
// or nil.
func cacheMountOn(mounts []*instructions.Mount, target string) *instructions.Mount {
	target = path.Clean(target)
	for _, m := range mounts {
		if m.Type != instructions.MountTypeCache || m.Target == "" {
			continue
		}
		if t := path.Clean(m.Target); t == target || t == "/" || strings.HasPrefix(target, t+"/") {
			return m
		}
	}
	return nil
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
	mods := a.stageMods(f)
	// CC001: source copied before the download; from the deps image the
	// download finds every module in the image.
	for _, cf := range f.copies {
		if !f.fromDeps && a.copiesSource(cf) {
			sev, msg := ruleSourceBeforeDownload.Severity, fmt.Sprintf("%q copies source code before go mod download at line %d: every code change downloads all modules again", cf.in.Text, in.Line)
			if a.noRequirements(mods) {
				sev, msg = reports.Info, fmt.Sprintf("%q copies source code before go mod download at line %d; the module has no requirements, so this costs nothing until it gets one", cf.in.Text, in.Line)
			}
			edits, note := a.sourceFirstFix(st, in, f, cf)
			a.addFix(ruleSourceBeforeDownload, sev, st, cf.in.Line, cf.in.EndLine, msg, edits, note)
			break
		}
	}
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
			a.addFix(ruleSumMissing, ruleSumMissing.Severity, st, cp.Line, cp.EndLine,
				fmt.Sprintf("%s is copied but %s is excluded by %s before go mod download at line %d", p, sum, a.b.IgnoreFile, in.Line),
				[]Edit{a.ignoreAppend("!" + sum)}, "")
		case exists:
			edits, note := a.sumFix(f.copies, p, sum)
			a.addFix(ruleSumMissing, ruleSumMissing.Severity, st, cp.Line, cp.EndLine,
				fmt.Sprintf("%s is copied without %s before go mod download at line %d", p, sum, in.Line),
				edits, note)
		case path.Base(p) == "go.mod" && a.b.Context != nil:
			if m := a.readMod(p); m.mod != nil && len(m.mod.Require) > 0 {
				a.add(ruleSumMissing, st, cp.Line, cp.EndLine,
					fmt.Sprintf("%s has requirements but there is no %s in the build context: the download cannot be verified", p, sum),
					fmt.Sprintf("run go mod tidy, commit %s and copy it with %s", sum, p))
			}
		case a.b.Context == nil && path.Base(p) == "go.mod":
			_, note := a.sumFix(f.copies, p, sum)
			if note == "" {
				img, _, _ := a.placeIn(f.copies, p)
				note = fmt.Sprintf("copy %s into %s beside it", sum, path.Dir(img))
			}
			a.add(ruleSumMissing, st, cp.Line, cp.EndLine,
				fmt.Sprintf("%s is copied without %s before go mod download at line %d", p, sum, in.Line),
				note)
		}
	}
	// CC004: local replacements and workspace modules of the main
	// module.
	for _, p := range a.mainModFiles(f.copies, mods, goDir(f.workdir, in.Script()), workOff(in, in.Script())) {
		a.checkLocalDirs(st, in, f, p, false)
	}
	// CC005: vendor/ in use but the Dockerfile downloads.
	if !strings.Contains(c.args+" "+flags, "-mod=mod") {
		for _, p := range mods {
			if a.vendored(p) {
				msg := fmt.Sprintf("%s is in the build context, so go builds from vendor/; go mod download fetches modules the build does not use", path.Join(path.Dir(p), "vendor/modules.txt"))
				if downloadOnly(in) {
					a.addFix(ruleVendorMismatch, ruleVendorMismatch.Severity, st, in.Line, in.EndLine, msg, []Edit{{Line: in.Line, EndLine: in.EndLine}}, "")
				} else {
					a.add(ruleVendorMismatch, st, in.Line, in.EndLine, msg, "remove go mod download from this RUN (and its module cache mount); copy vendor/ with the source")
				}
				break
			}
		}
	}
}

// noRequirements reports whether the module files mods are known to
// require nothing (no require directive, no go.sum): then a download
// fetches nothing.
func (a *analysis) noRequirements(mods []string) bool {
	if a.b.Context == nil || len(mods) == 0 {
		return false
	}
	for _, p := range mods {
		m := a.readMod(p)
		if m.mod == nil || len(m.mod.Require) > 0 || a.existsInContext(path.Join(path.Dir(p), "go.sum")) {
			return false
		}
	}
	return true
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

func (a *analysis) existsInContext(p string) bool {
	if a.b.Context == nil {
		return false
	}
	_, err := fs.Stat(a.b.Context, p)
	return err == nil
}

// checkLocalDirs reports the local replace directories of go.mod p, or the
// use directories of go.work p, that are not in the image at the download.
//
// With never (a build without a download step), only the directories
// that can never be in the image are reported.
func (a *analysis) checkLocalDirs(st *Stage, in *Instruction, f *stageFacts, p string, never bool) {
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
			a.because("%s", where)
			continue
		}
		dir := path.Join(path.Dir(p), r.dir)
		if dir == ".." || strings.HasPrefix(dir, "../") {
			a.add(ruleLocalReplace, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s lies outside the build context, so no COPY can bring it in: go mod download and go build always fail", where, dir),
				"build from a context that contains both directories (docker build -f <dir>/Dockerfile <common parent>) or publish the module and require a version")
			a.because("%s", where)
			continue
		}
		gomod := path.Join(dir, "go.mod")
		excluded := a.existsInContext(gomod) && a.b.Excluded(gomod)
		if never && !excluded || a.copied(f.copies, gomod) {
			continue
		}
		switch {
		case excluded:
			edits, note := a.localDirFix(st, in, f, p, dir, r.dir)
			if edits != nil {
				edits = append([]Edit{a.ignoreAppend("!" + dir)}, edits...)
			}
			a.addFix(ruleLocalReplace, ruleLocalReplace.Severity, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s is excluded by %s, so go mod download fails", where, gomod, a.b.IgnoreFile),
				edits, note)
			a.because("%s", where)
		case a.b.Context != nil && !a.existsInContext(gomod):
			a.add(ruleLocalReplace, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s is not in the build context, so go mod download fails", where, gomod),
				fmt.Sprintf("add %s to the build context, or remove the %s line", gomod, strings.Fields(r.what)[0]))
			a.because("%s", where)
		default:
			edits, note := a.localDirFix(st, in, f, p, dir, r.dir)
			a.addFix(ruleLocalReplace, ruleLocalReplace.Severity, st, in.Line, in.EndLine,
				fmt.Sprintf("%s: %s is not copied before go mod download at line %d: a cold build fails while a warm cache hides it", where, gomod, in.Line),
				edits, note)
		}
	}
}

// moduleFilesFor returns the module files mods and their checksum files
// where the context has them, at most four: the sources of a COPY in a fix
// text.
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

// checkVendorEarly runs the go mod vendor half of CC005: go mod vendor
// on the module files alone, before the source is copied. It vendors the
// packages the module's code imports, and with no code there are none: it
// fetches the requirements' go.mod files and writes a vendor/modules.txt
// listing the modules, and nothing else. From go 1.14 on, go build then
// builds from that vendor/ and cannot find a single package of a
// requirement.
func (a *analysis) checkVendorEarly(st *Stage, in *Instruction, f *stageFacts, mods []string) {
	v, ok := gosettings.ParseVersion(a.readMod(mods[0]).goVersion())
	if !ok || v.Compare(goVersion("1.14")) < 0 || path.Base(mods[0]) != "go.mod" {
		return // the build does not use vendor/ (CC003 tells the rest)
	}
	f.vendorEarly = in
	if a.noRequirements(mods) {
		return // nothing to vendor, nothing missing
	}
	a.addSev(ruleVendorMismatch, reports.Error, st, in.Line, in.EndLine,
		fmt.Sprintf("go mod vendor runs before the source is copied, so it finds no package to vendor: it writes a vendor/modules.txt listing the modules of %s and no code, and go build, which builds from vendor/ at go %s, then cannot find a single package the code imports from a requirement", mods[0], v),
		"RUN go mod download here instead (the module download layer; go build then reads the module cache), or run go mod vendor after the source is copied")
}

// checkDownloadedModule runs CC003 for a go build after a download step
// that read another module: the go.mod in the build's directory (or the
// nearest above it) is not the file that was there for go mod download, as
// when a second COPY go.mod go.sum ./ in a subdirectory's WORKDIR copies
// the root module's files again (COPY sources are context paths). The
// requirements of the build's module that the download's module neither
// requires nor lists in its go.sum are fetched inside go build, after the
// source is copied. Workspaces, builds behind make or a script, and a
// download in another stage are left alone.
func (a *analysis) checkDownloadedModule(st *Stage, in *Instruction, f *stageFacts, c goCall) {
	if a.b.Context == nil {
		return
	}
	di, bi := slices.Index(st.Instructions, f.download), slices.Index(st.Instructions, in)
	if di < 0 || bi < 0 || workOff(in, in.Script()) || workOff(f.download, f.download.Script()) {
		return
	}
	l := a.b.layout(st)
	dir := goDir(l.workdirAt(bi), in.Script())
	// Once per directory, and for a few: each look walks the copies.
	if f.modChecked[dir] || len(f.modChecked) >= 16 {
		return
	}
	if f.modChecked == nil {
		f.modChecked = map[string]bool{}
	}
	f.modChecked[dir] = true
	dlMod, dlDir := a.imageModule(l, di, goDir(l.workdirAt(di), f.download.Script()))
	bMod, bDir := a.imageModule(l, bi, dir)
	if dlMod == "" || bMod == "" || dlMod == bMod {
		return
	}
	dm, bm := a.readMod(dlMod), a.readMod(bMod)
	if dm.mod == nil || bm.mod == nil {
		return
	}
	have := map[string]bool{}
	for _, r := range dm.mod.Require {
		have[r.Mod.String()] = true
	}
	if data, err := fs.ReadFile(a.b.Context, path.Join(path.Dir(dlMod), "go.sum")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 3 && !strings.HasSuffix(f[1], "/go.mod") {
				have[f[0]+"@"+f[1]] = true
			}
		}
	}
	local := map[string]bool{}
	for _, r := range bm.mod.Replace {
		if modfile.IsDirectoryPath(r.New.Path) {
			local[r.Old.Path] = true
		}
	}
	var missing []string
	for _, r := range bm.mod.Require {
		if !local[r.Mod.Path] && !have[r.Mod.String()] {
			missing = append(missing, r.Mod.Path)
		}
	}
	if len(missing) == 0 {
		return
	}
	f.built = true
	more := ""
	if len(missing) > 1 {
		more = fmt.Sprintf(" and %d more", len(missing)-1)
	}
	files := strings.Join(a.moduleFilesFor([]string{bMod}), " ")
	fix := fmt.Sprintf("COPY %s %s/ and RUN go mod download in %s, before the source is copied", files, bDir, bDir)
	// The COPY that put the other module's go.mod there, if it wrote
	// into the build's module directory: name the right sources.
	for i := len(f.copies) - 1; i >= 0; i-- {
		cf := f.copies[i]
		if cf.in.Line >= f.download.Line {
			continue
		}
		if loc, ok := imagePath(cf, dlMod); ok && path.Dir(loc) == dlDir {
			if dlDir == bDir {
				fix = fmt.Sprintf("COPY %s %s in place of line %d (COPY sources are paths in the build context, not in the WORKDIR)", files, cf.rawDest, cf.in.Line)
			}
			break
		}
	}
	a.add(ruleNoDownloadStep, st, in.Line, in.EndLine,
		fmt.Sprintf("go %s runs in the module of %s (in the image at %s), but go mod download at line %d ran on %s there: %s's requirements (%s%s) are fetched inside go %s after the source is copied, on every code change", c.sub, bMod, path.Join(bDir, "go.mod"), f.download.Line, dlMod, bMod, missing[0], more, c.sub),
		fix)
}

// imageModule returns the go.mod that a go command run in directory dir
// of the image, before instruction upto of the stage, reads, as a context
// path, and the directory it is in; "" when none is known or a go.work is
// found first.
func (a *analysis) imageModule(l *stageLayout, upto int, dir string) (mod, modDir string) {
	for d, i := path.Clean(dir), 0; i < 64; d, i = path.Dir(d), i+1 {
		if _, why := l.contextPath(a.b, upto, path.Join(d, "go.work")); why == "" {
			return "", ""
		}
		if name, why := l.contextPath(a.b, upto, path.Join(d, "go.mod")); why == "" {
			return name, d
		}
		if d == "/" {
			break
		}
	}
	return "", ""
}

var modVendorRE = regexp.MustCompile(`-mod[= ]vendor\b`)

// checkBuild runs the rules about a go build: CC003, the -mod=vendor half
// of CC005 and the build half of CC006.
func (a *analysis) checkBuild(st *Stage, in *Instruction, f *stageFacts, c goCall, flags string, mounts []*instructions.Mount, dirs cacheDirs) {
	modcache, gocache, uid := dirs.modcache, dirs.gocache, dirs.uidOpt
	mods := a.stageMods(f)
	if c.sub == "mod vendor" && f.vendorEarly == nil && !f.built && len(mods) > 0 && !slices.ContainsFunc(f.copies, a.copiesSource) {
		a.checkVendorEarly(st, in, f, mods)
		return
	}
	vendored := f.vendorEarly != nil
	for _, p := range mods {
		vendored = vendored || a.vendored(p)
	}
	modVendor := modVendorRE.MatchString(c.args + " " + flags)
	if f.download == nil && !f.replaced && !vendored && !modVendor {
		// CC004 without a download step: a directory outside the
		// context breaks the build as well.
		f.replaced = true
		for _, p := range a.mainModFiles(f.copies, mods, goDir(f.workdir, in.Script()), workOff(in, in.Script())) {
			a.checkLocalDirs(st, in, f, p, true)
		}
	}
	if modVendor && !vendored && len(mods) > 0 {
		a.addSev(ruleVendorMismatch, reports.Error, st, in.Line, in.EndLine,
			fmt.Sprintf("go %s uses -mod=vendor but there is no vendor/modules.txt beside %s in the build context", c.sub, mods[0]),
			"run go mod vendor and commit vendor/ (and do not exclude it in .dockerignore), or drop -mod=vendor and download modules")
	}
	if f.download != nil && !f.fromDeps && !vendored && !modVendor && !f.built && c.from == nil {
		a.checkDownloadedModule(st, in, f, c)
	}
	if f.download == nil && !f.fromDeps && !vendored && !modVendor && len(mods) > 0 && !f.built && !a.noRequirements(mods) {
		// A module that requires nothing has nothing to download.
		f.built = true
		edits, note := a.noDownloadFix(st, in, f, modcache)
		a.addFix(ruleNoDownloadStep, ruleNoDownloadStep.Severity, st, in.Line, in.EndLine,
			fmt.Sprintf("go %s fetches modules itself after the source is copied: every code change downloads all modules again", c.sub),
			edits, note)
	}
	if !a.buildKit {
		return
	}
	var need []string
	// go mod tidy and go mod vendor compile nothing.
	if compiles(c) && !hasCacheMount(mounts, gocache) {
		need = append(need, "--mount=type=cache,target="+gocache+uid)
	}
	needMod := !vendored && !modVendor && !f.fromDeps && (f.download == nil || f.dlMount) && !hasCacheMount(mounts, modcache)
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
	msg += otherMounts(mounts) + dirs.assumed.note(needMod, len(need) > 1 || !needMod)
	if edits, ok := a.runFlagEdit(in, strings.Join(need, " ")); ok && !a.fromDepsImage(st) {
		a.addFix(ruleNoCacheMount, sev, st, in.Line, in.EndLine, msg, edits, "")
	} else {
		a.addSev(ruleNoCacheMount, sev, st, in.Line, in.EndLine, msg, "add "+strings.Join(need, " ")+" to this RUN")
	}
	a.because("no %s mount on %s in stage %s", sev, strings.Join(mountTargets(need), " "), st.Ref())
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
		a.because("credential %s", key)
	case credURLRE.MatchString(value):
		a.add(ruleCredential, st, in.Line, in.EndLine,
			fmt.Sprintf("%s %s holds a URL with a user and password: it stays in the image history", kind, key),
			"put the credentials in a .netrc passed with RUN --mount=type=secret,id=netrc,target=/root/.netrc")
		a.because("credential %s", key)
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

// checkDockerignore runs CC009: a copy that sends a .git directory into
// the image, once per stage and directory.
func (a *analysis) checkDockerignore(st *Stage, in *Instruction, cf copyFact, f *stageFacts) {
	for _, d := range a.gitsCopied(cf) {
		if f.gitSent[d] {
			continue
		}
		if f.gitSent == nil {
			f.gitSent = map[string]bool{}
		}
		f.gitSent[d] = true
		g := path.Join(d, ".git")
		what := fmt.Sprintf("%q copies %s", in.Text, g)
		if d == "." {
			what = fmt.Sprintf("%q copies the whole context", in.Text)
		}
		if use, why := a.gitUse(st); use != nil {
			// Excluding .git would break the build: keep it out of the
			// download layer instead.
			if f.download != nil {
				a.addSev(ruleDockerignore, reports.Info, st, in.Line, in.EndLine,
					fmt.Sprintf("%s with %s, which changes on every commit; the build needs it (line %d runs %s), and the module download layer at line %d comes before it", what, g, use.Line, why, f.download.Line),
					fmt.Sprintf("nothing to change for the download; to stop every commit rebuilding this layer, pass what line %d reads as a build argument (--build-arg VERSION=$(git describe --tags)) and add %s to %s", use.Line, g, cmp.Or(a.b.IgnoreFile, ".dockerignore")))
				continue
			}
			if !a.downloadsAfter(st, in) {
				// No download step at all: every commit downloads every
				// module because of that (CC003), not because of .git,
				// which the build needs.
				a.addSev(ruleDockerignore, reports.Info, st, in.Line, in.EndLine,
					fmt.Sprintf("%s with %s, which changes on every commit; the build needs it (line %d runs %s), so it must stay: what every commit costs here is the missing module download step, not .git", what, g, use.Line, why),
					fmt.Sprintf("nothing to exclude: COPY go.mod and go.sum and RUN go mod download before this COPY; to stop every commit rebuilding this layer, pass what line %d reads as a build argument (--build-arg VERSION=$(git describe --tags)) and add %s to %s", use.Line, g, cmp.Or(a.b.IgnoreFile, ".dockerignore")))
				continue
			}
			a.add(ruleDockerignore, st, in.Line, in.EndLine,
				fmt.Sprintf("%s with %s before the module download: every commit busts the cache of this layer and of every step after it; the build needs %s (line %d runs %s), so excluding it in .dockerignore would break that step", what, g, g, use.Line, why),
				"keep .git out of the download layer instead: COPY only go.mod and go.sum before RUN go mod download, and copy the rest after it")
			continue
		}
		switch {
		case a.b.Ignore == nil:
			a.addFix(ruleDockerignore, ruleDockerignore.Severity, st, in.Line, in.EndLine,
				fmt.Sprintf("%s and there is no .dockerignore: %s and build outputs bust the cache of this layer on every commit", what, g),
				[]Edit{a.ignoreAppend(g)}, "")
		default:
			a.addFix(ruleDockerignore, ruleDockerignore.Severity, st, in.Line, in.EndLine,
				fmt.Sprintf("%s and %s does not exclude %s: every commit busts the cache of this layer", what, a.b.IgnoreFile, g),
				[]Edit{a.ignoreAppend(g)}, "")
		}
	}
}

// downloadsAfter reports whether a RUN after in, in stage st or a stage
// built on it, downloads modules (go mod download, here or behind make or
// a script).
func (a *analysis) downloadsAfter(st *Stage, in *Instruction) bool {
	for _, s := range a.b.Stages[st.Index:] {
		if a.rootOf(s, st) != st {
			continue
		}
		for _, r := range s.Instructions {
			if s == st && r.Line <= in.Line || r.Run() == nil {
				continue
			}
			if slices.ContainsFunc(a.b.runCalls(s, r), isDownload) {
				return true
			}
		}
	}
	return false
}

// rootOf follows the bases of stage s up to stage st, and returns st when
// s is st or built on it.
func (a *analysis) rootOf(s, st *Stage) *Stage {
	for i := 0; s != st && s.BaseStage >= 0 && i < len(a.b.Stages); i++ {
		s = a.b.Stages[s.BaseStage]
	}
	return s
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
	cgoLine := map[int]int{}
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
		hasCC := !(isGolangImage(name) && strings.Contains(tag, "alpine"))
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
				for _, gc := range a.b.runCalls(s, bin) {
					if gc.sub == "build" || gc.sub == "install" && !strings.Contains(gc.args, "@") {
						build = &gc
						break
					}
				}
				if build == nil {
					continue
				}
				if v, _ := scopeVar(bin, "CGO_ENABLED"); v == "0" || cgoOffRE.MatchString(build.script(script)) || build.cgoOff() {
					continue
				}
				// One ENV before the first such build of the stage
				// serves them all.
				first, ok := cgoLine[s.Index]
				if !ok {
					first = bin.Line
					cgoLine[s.Index] = first
				}
				n := len(a.findings)
				a.addFix(ruleCgoStatic, ruleCgoStatic.Severity, s, bin.Line, bin.EndLine,
					fmt.Sprintf("go %s leaves cgo enabled (%s has a C compiler) but the final stage runs on %s: a binary using net or os/user will not start", build.sub, root.Base, a.rootImage(target).Base),
					[]Edit{insertBefore(first, "ENV CGO_ENABLED=0")}, "")
				a.because("cgo in stage %s", s.Ref())
				a.locate(n, *build)
				a.fixCgoBehind(n, *build, s)
			}
		}
	}
}

// go121 is the first Go release that switches toolchains.
var go121 = goVersion("1.21")

// checkToolchain runs CC010 on every stage that builds or downloads.
func (a *analysis) checkToolchain() {
	reported := map[int]bool{}
	for i, st := range a.b.Stages {
		for _, in := range st.Instructions {
			calls := a.b.runCalls(st, in)
			if len(calls) == 0 {
				continue
			}
			root := a.rootImage(st)
			name, tag := splitImage(root.Base)
			if !isGolangImage(name) || reported[root.Index] {
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
				m := a.readMod(p)
				need, line, ok := m.required()
				if !ok {
					continue
				}
				suffix := ""
				if j := strings.IndexByte(tag, '-'); j >= 0 {
					suffix = tag[j:]
				}
				image := strings.TrimSuffix(tag, suffix)
				if have.Compare(go121) < 0 {
					// Toolchain switching came with Go 1.21: an older go
					// command downloads nothing.
					v, ok := preSwitchVerdict(m, have)
					if !ok {
						continue
					}
					reported[root.Index] = true
					msg := fmt.Sprintf("%s:%d %s but %s has Go %s, which predates toolchain switching (Go 1.21) and downloads nothing: %s", p, v.line, v.says, root.Base, image, v.what)
					if edits, ok := a.toolchainFix(root, tag, v.need); ok && v.fix == "" {
						a.addFix(ruleToolchain, v.sev, root, root.Line, root.EndLine, msg, edits, "")
						break
					}
					fix := a.toolchainFixText(root, suffix, v.need)
					if v.fix != "" {
						fix += " (or " + v.fix + ")"
					}
					a.addSev(ruleToolchain, v.sev, root, root.Line, root.EndLine, msg, fix)
					break
				}
				if !imageOlder(have, need) {
					continue
				}
				reported[root.Index] = true
				msg := fmt.Sprintf("%s:%d needs Go %s but %s has Go %s and GOTOOLCHAIN is unset: the go command downloads Go %s on every cold build", p, line, need, root.Base, image, need)
				if edits, ok := a.toolchainFix(root, tag, need); ok {
					a.addFix(ruleToolchain, ruleToolchain.Severity, root, root.Line, root.EndLine, msg, edits, "")
					break
				}
				a.addSev(ruleToolchain, ruleToolchain.Severity, root, root.Line, root.EndLine, msg, a.toolchainFixText(root, suffix, need))
				break
			}
			break
		}
	}
}

// toolchainFixText is CC010's fix where no edit can be written: the
// builder image of Go need's release, or the ARG that names it.
func (a *analysis) toolchainFixText(root *Stage, suffix string, need gosettings.Version) string {
	fix := fmt.Sprintf("use %s:%s%s in the FROM at line %d", imageRepo(root.Base), need.Lang(), suffix, root.Line)
	if m := argRefRE.FindStringSubmatch(root.Text); m != nil {
		fix = fmt.Sprintf("ARG %s=%s before the first FROM (the image becomes %s:%s%s)", m[1], need.Lang(), imageRepo(root.Base), need.Lang(), suffix)
	}
	return fix
}

// preVerdict is what a go command older than 1.21 does with a go.mod that
// asks for more than it has.
type preVerdict struct {
	sev  reports.Severity
	line int
	says string             // what the file says: "says go 1.21.5"
	what string             // what happens then
	need gosettings.Version // the release to build with
	fix  string             // a fix in the file, or ""
}

// oldGoLineRE is the only go line form the go command accepted before Go
// 1.21 (golang.org/x/mod/modfile's GoVersionRE until v0.12.0).
var oldGoLineRE = regexp.MustCompile(`^[1-9][0-9]*\.(0|[1-9][0-9]*)$`)

// preSwitchVerdict says what Go have (older than 1.21, so without
// toolchain switching) does with the go.mod m, and ok false when it
// builds m as it should. Before Go 1.21 the go line is advisory: the go
// command builds anyway and, only when the compile fails, adds "note:
// module requires Go X" (Go 1.12 to 1.20). What it cannot parse fails at
// once: a go line of another form than major.minor ("1.21.5", "1.21rc1")
// and a toolchain line. Go 1.19.11 and 1.20.6 began refusing modules that
// declare Go 1.21 or later; 1.19.13 and 1.20.8 moved that to Go 1.22 or
// later (go.dev/doc/toolchain).
func preSwitchVerdict(m *modInfo, have gosettings.Version) (v preVerdict, ok bool) {
	if m.mod == nil {
		// go.work came with Go 1.18 and has the same rules; an older go
		// command ignores it. Only go.mod is judged here.
		return v, false
	}
	if g := m.mod.Go; g != nil && !oldGoLineRE.MatchString(g.Version) {
		need, _ := gosettings.ParseVersion(g.Version)
		v = preVerdict{sev: reports.Error, line: g.Syntax.Start.Line, says: "says go " + g.Version, need: need,
			what: fmt.Sprintf("it reads only major.minor go lines, so the build fails at once with \"invalid go version '%s': must match format 1.23\"", g.Version)}
		if !imageOlder(have, need) {
			// The release fits; only the form does not.
			v.need = go121
			v.fix = fmt.Sprintf("go mod edit -go=%s, a form Go %s reads", need.Lang(), have)
		}
		return v, true
	}
	if t := m.mod.Toolchain; t != nil {
		need, _ := gosettings.ParseVersion(t.Name)
		return preVerdict{sev: reports.Error, line: t.Syntax.Start.Line, says: "has a toolchain line", need: need, fix: "go mod edit -toolchain=none with Go 1.21 or later",
			what: "it does not know that directive, so the build fails at once with \"unknown directive: toolchain\""}, true
	}
	g := m.mod.Go
	if g == nil {
		return v, false
	}
	need, ok := gosettings.ParseVersion(g.Version)
	if !ok || !imageOlder(have, need) {
		return v, false
	}
	v = preVerdict{sev: ruleToolchain.Severity, line: g.Syntax.Start.Line, says: "says go " + g.Version, need: need}
	if from, min, ok := refuses(have, need); ok {
		v.sev = reports.Error
		v.what = fmt.Sprintf("Go %s from %s on refuses a module declaring Go %s or later (Go 1.21's rule, backported), so the build fails at once", have, from, min)
		return v, true
	}
	v.what = fmt.Sprintf("the go line is only advisory there, so the build runs on Go %s and fails only where the code needs Go %s, with \"note: module requires Go %s\"", have, g.Version, g.Version)
	return v, true
}

// refuses reports whether Go have, a 1.19 or 1.20 release with Go 1.21's
// forward-compatibility rule backported, refuses a module declaring go
// need, from which patch release and from which declared version. An
// image tag without a patch level is the newest patch release.
func refuses(have, need gosettings.Version) (from string, min gosettings.Version, ok bool) {
	first, later := "1.19.11", "1.19.13" // 1.19.11 refuses go 1.21+, 1.19.13 go 1.22+
	switch have.Lang().String() {
	case "1.19":
	case "1.20":
		first, later = "1.20.6", "1.20.8"
	default:
		return "", min, false
	}
	// An image tagged with the language version has its newest release.
	atLeast := func(s string) bool {
		v, _ := gosettings.ParseVersion(s)
		return have.IsLang() || have.Compare(v) >= 0
	}
	switch {
	case atLeast(later):
		from, min = later, goVersion("1.22")
	case atLeast(first):
		from, min = first, go121
	default:
		return "", min, false
	}
	return from, min, need.Compare(min) >= 0
}

// goVersion parses a Go version this file names.
func goVersion(s string) gosettings.Version {
	v, ok := gosettings.ParseVersion(s)
	if !ok {
		panic("bad Go version " + s)
	}
	return v
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
				if builder == nil && slices.ContainsFunc(a.b.runCalls(st, in), want) {
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
	msg := fmt.Sprintf("stage %s starts from %s and runs go at line %d; the dependency image %s already holds the module cache", root.Ref(), root.Base, step.Line, ref)
	alt := fmt.Sprintf("ARG DEPS_IMAGE=%s before the first FROM and %s${DEPS_IMAGE}%s", ref, from, as)
	if edits, ok := a.fromEdit(root, func(string) (string, bool) { return ref, true }); ok {
		a.addFix(ruleDepsImage, ruleDepsImage.Severity, root, root.Line, root.EndLine, msg, edits, "or "+alt)
		return
	}
	a.add(ruleDepsImage, root, root.Line, root.EndLine, msg, fmt.Sprintf("%s%s%s (or %s)", from, ref, as, alt))
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
