package analyzer

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Prediction says, instruction by instruction, which layers a build of head
// reuses from a build of base, deciding as BuildKit does (or the classic
// docker builder, [WithClassicDockerBuilder]).
type Prediction struct {
	Stages []StagePrediction
}

// StagePrediction is the prediction for one stage of head.
type StagePrediction struct {
	// Stage is the stage's name ("build") or its index ("1").
	Stage string
	// Line is the FROM instruction's line in head's Dockerfile.
	Line int
	// BaseChanged says why the stage's base misses, or "".
	BaseChanged string
	// Steps are the instructions that make a layer (FROM, RUN, COPY, ADD,
	// WORKDIR), in order; the others only change the image configuration.
	Steps []StepPrediction
}

// FirstMiss returns the first step that misses, or nil.
func (s *StagePrediction) FirstMiss() *StepPrediction {
	for i := range s.Steps {
		if !s.Steps[i].Hit {
			return &s.Steps[i]
		}
	}
	return nil
}

// StepPrediction is one instruction's verdict.
type StepPrediction struct {
	// Index is the step's position in its stage from 1, counted as
	// BuildKit counts ("[build 4/6]"): FROM is 1.
	Index int
	// Kind is FROM, RUN, COPY, ADD or WORKDIR.
	Kind string
	// Line is the instruction's line in head's Dockerfile.
	Line int
	// Text is the instruction as written in head.
	Text string
	// Hit reports whether the layer is predicted to be reused.
	Hit bool
	// Reason says why it misses: "COPY . . misses: cmd/api/main.go
	// changed", or "after the miss at line 9".
	Reason string
	// Changed lists the context files whose change makes a COPY or ADD (or
	// a RUN's bind mount) miss, sorted; at most the first 20.
	Changed []string
	// ChangedCount is the number of changed files, which may exceed
	// len(Changed).
	ChangedCount int
	// ModuleDownload reports whether the step runs "go mod download".
	ModuleDownload bool
}

// ModuleDownloadReused reports whether every module download step of the
// build hits, and whether there is one at all.
func (p *Prediction) ModuleDownloadReused() (reused, found bool) {
	reused = true
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			if s.ModuleDownload {
				found = true
				reused = reused && s.Hit
			}
		}
	}
	return reused && found, found
}

// maxChanged bounds StepPrediction.Changed.
const maxChanged = 20

// Predict compares two builds of the same Dockerfile (base, as last built,
// and head, to be built next) and predicts which of head's layers BuildKit
// reuses:
//   - a stage misses from its FROM when its base image reference or
//     platform changed, or the stage it starts from has a miss;
//   - COPY and ADD from the build context miss when the instruction
//     changed or the files they copy (after .dockerignore) changed in
//     content or mode (executable bit, symbolic link); times do not count;
//   - COPY --from a stage misses when that stage has a miss;
//   - RUN misses when its command line, the build args and ENV values in
//     scope, its USER, WORKDIR or SHELL, or the content of a bind mount
//     from the context changed;
//   - after the first miss every later step of the stage misses.
//
// Images named by tag are assumed unchanged when the tag is: the
// prediction does not resolve digests. [WithClassicDockerBuilder] predicts
// for the classic docker builder instead.
func Predict(base, head *Build, opts ...PredictOption) (*Prediction, error) {
	p := &predictor{base: base, head: head, ids: [2]map[string]string{{}, {}}, stages: map[int]*StagePrediction{}}
	for _, opt := range opts {
		opt(&p.o)
	}
	out := &Prediction{}
	for _, hs := range head.Stages {
		sp, err := p.stage(hs)
		if err != nil {
			return nil, err
		}
		p.stages[hs.Index] = sp
		out.Stages = append(out.Stages, *sp)
	}
	return out, nil
}

// PredictOption configures Predict.
type PredictOption func(*predictOptions)

type predictOptions struct {
	classic bool
}

// WithClassicDockerBuilder predicts what the classic docker builder
// ("docker build" with DOCKER_BUILDKIT=0, docker-compose v1) reuses. It
// decides the layer steps as BuildKit does, but it caches every
// instruction, one after another: an instruction that only sets the
// image's configuration (ENV, LABEL, ARG, USER, EXPOSE, CMD, ...) misses
// when its text changed or, but for ARG, whose --build-arg value the
// classic builder keeps out of the step, the value it sets after
// expansion; and then every later step of the stage misses, COPY and ADD
// included. The default is BuildKit's decisions.
func WithClassicDockerBuilder() PredictOption {
	return func(o *predictOptions) { o.classic = true }
}

type predictor struct {
	o          predictOptions
	base, head *Build
	ids        [2]map[string]string // per build: path -> mode+object id
	stages     map[int]*StagePrediction
	buf        []byte // for hashing files
}

// layerKinds are the instructions BuildKit makes a vertex for.
func isLayer(kind string) bool {
	switch kind {
	case "RUN", "COPY", "ADD", "WORKDIR":
		return true
	}
	return false
}

// runState is what a RUN's cache key depends on besides its command line.
type runState struct {
	user, workdir, shell string
}

func walkState(st *Stage, upto int) runState {
	var s runState
	for _, in := range st.Instructions[:upto] {
		switch c := in.Command.(type) {
		case *instructions.UserCommand:
			s.user = c.User
		case *instructions.WorkdirCommand:
			s.workdir = c.Path
		case *instructions.ShellCommand:
			s.shell = strings.Join(c.Shell, " ")
		}
	}
	return s
}

func (p *predictor) stage(hs *Stage) (*StagePrediction, error) {
	sp := &StagePrediction{Stage: hs.Ref(), Line: hs.Line}
	// The stage at the same position when it has the same name (names may
	// repeat), else the stage of that name.
	var bs *Stage
	if hs.Index < len(p.base.Stages) && p.base.Stages[hs.Index].Ref() == hs.Ref() {
		bs = p.base.Stages[hs.Index]
	} else if bs = p.base.Stage(hs.Ref()); bs != nil && hs.Name == "" && bs.Name != "" {
		bs = nil
	}
	missed := "" // the reason every later step misses, once one has
	switch {
	case bs == nil:
		missed = fmt.Sprintf("stage %s is new", hs.Ref())
	case hs.BaseStage >= 0:
		parent := p.stages[hs.BaseStage]
		if fm := parent.FirstMiss(); fm != nil {
			missed = fmt.Sprintf("base stage %s rebuilds from line %d", parent.Stage, fm.Line)
		} else if bs.BaseStage < 0 || p.base.Stages[bs.BaseStage].Ref() != parent.Stage {
			missed = fmt.Sprintf("base changed from %s to stage %s", bs.Base, parent.Stage)
		}
	case hs.Base != bs.Base || hs.Platform != bs.Platform:
		missed = fmt.Sprintf("base image changed from %s to %s", bs.Base, hs.Base)
	}
	sp.BaseChanged = missed
	sp.Steps = append(sp.Steps, StepPrediction{Index: 1, Kind: "FROM", Line: hs.Line, Text: hs.Text, Hit: missed == "", Reason: missed})
	if missed != "" {
		sp.Steps[0].Reason = "FROM misses: " + missed
	}

	var baseLayers []int // indices into bs.Instructions
	if bs != nil {
		for i, in := range bs.Instructions {
			if isLayer(in.Kind) {
				baseLayers = append(baseLayers, i)
			}
		}
	}
	n := 0
	configMiss := "" // the reason of a configuration instruction that missed (classic builder)
	for i, in := range hs.Instructions {
		if !isLayer(in.Kind) {
			if p.o.classic && missed == "" {
				if why := classicConfigChanged(in, bs, i); why != "" {
					missed = why
					configMiss = fmt.Sprintf("%s at line %d misses: %s", shortText(in), in.Line, why)
				}
			}
			continue
		}
		step := StepPrediction{Index: n + 2, Kind: in.Kind, Line: in.Line, Text: in.Text, Hit: true}
		step.ModuleDownload = in.Kind == "RUN" && isModDownload(in.Script())
		var bi *Instruction
		bIdx := -1
		switch {
		case p.o.classic:
			// The classic builder's steps follow one another: the
			// instruction at the same position, whatever its kind.
			if bs != nil && i < len(bs.Instructions) {
				bIdx, bi = i, bs.Instructions[i]
			}
		case n < len(baseLayers):
			bIdx = baseLayers[n]
			bi = bs.Instructions[bIdx]
		}
		n++
		if missed != "" {
			step.Hit, step.Reason = false, "after the miss at line "+strconv.Itoa(firstMissLine(sp))
			switch {
			case configMiss != "" && sp.FirstMiss() == nil:
				step.Reason = configMiss
			case len(sp.Steps) == 1:
				step.Reason = sp.Steps[0].Reason
			}
			sp.Steps = append(sp.Steps, step)
			continue
		}
		why, changed, count, err := p.step(hs, i, in, bs, bIdx, bi)
		if err != nil {
			return nil, err
		}
		if why != "" {
			step.Hit = false
			step.Reason = fmt.Sprintf("%s misses: %s", shortText(in), why)
			step.Changed, step.ChangedCount = changed, count
			missed = why
		}
		sp.Steps = append(sp.Steps, step)
	}
	for i := range sp.Steps {
		sp.Steps[i].Index = i + 1
	}
	return sp, nil
}

func firstMissLine(sp *StagePrediction) int {
	if fm := sp.FirstMiss(); fm != nil {
		return fm.Line
	}
	return 0
}

// shortText is the instruction's text cut to one readable line.
func shortText(in *Instruction) string {
	t := strings.Join(strings.Fields(in.Text), " ")
	if len(t) > 60 {
		t = t[:57] + "..."
	}
	return t
}

// step decides one layer step whose predecessors all hit; it returns ""
// when the step hits, else why it misses.
func (p *predictor) step(hs *Stage, i int, in *Instruction, bs *Stage, bIdx int, bi *Instruction) (why string, changed []string, count int, err error) {
	if bi == nil {
		return "new instruction", nil, 0, nil
	}
	if in.Kind != bi.Kind || normalize(in.Text) != normalize(bi.Text) {
		return fmt.Sprintf("instruction changed (was %q at line %d)", shortText(bi), bi.Line), nil, 0, nil
	}
	if in.Script() != bi.Script() || heredocs(in) != heredocs(bi) {
		return "heredoc changed", nil, 0, nil
	}
	switch in.Kind {
	case "RUN":
		if d := diffVars("build arg", bi.Args, in.Args); d != "" {
			return d, nil, 0, nil
		}
		if d := diffVars("ENV", bi.Env, in.Env); d != "" {
			return d, nil, 0, nil
		}
		hst, bst := walkState(hs, i), walkState(bs, bIdx)
		switch {
		case hst.user != bst.user:
			return fmt.Sprintf("USER changed from %q to %q", bst.user, hst.user), nil, 0, nil
		case hst.workdir != bst.workdir:
			return fmt.Sprintf("WORKDIR changed from %q to %q", bst.workdir, hst.workdir), nil, 0, nil
		case hst.shell != bst.shell:
			return "SHELL changed", nil, 0, nil
		}
		for _, m := range in.Mounts() {
			if m.Type != instructions.MountTypeBind || m.From != "" {
				if m.Type == instructions.MountTypeBind && m.From != "" {
					if w := p.fromChanged(m.From); w != "" {
						return "bind mount " + w, nil, 0, nil
					}
				}
				continue
			}
			src := m.Source
			if src == "" {
				src = "."
			}
			changed, count, err := p.diffFiles([]string{src}, nil)
			if err != nil {
				return "", nil, 0, err
			}
			if count > 0 {
				return describeChanged(changed, count), changed, count, nil
			}
		}
	case "COPY", "ADD":
		c, _ := in.Copy()
		if c.From != "" {
			if w := p.fromChanged(c.From); w != "" {
				return w, nil, 0, nil
			}
			return "", nil, 0, nil
		}
		if c.Inline {
			return "", nil, 0, nil
		}
		// Remote sources (URLs, git) are assumed unchanged, like image
		// tags: their content is only known by fetching it.
		changed, count, err := p.diffFiles(c.Sources, c.Exclude)
		if err != nil {
			return "", nil, 0, fmt.Errorf("%s:%d: comparing the files of %s: %w", p.head.Dockerfile, in.Line, shortText(in), err)
		}
		if count > 0 {
			return describeChanged(changed, count), changed, count, nil
		}
	}
	return "", nil, 0, nil
}

// classicConfigChanged says why the classic docker builder misses in, a
// configuration instruction at position i of head's stage, against the
// instruction at the same position of the base's stage bs, or "" when it
// hits: its text changed, or the value it sets after expansion (but for
// ARG).
func classicConfigChanged(in *Instruction, bs *Stage, i int) string {
	if bs == nil || i >= len(bs.Instructions) {
		return "new instruction"
	}
	bi := bs.Instructions[i]
	if in.Kind != bi.Kind || normalize(in.Text) != normalize(bi.Text) {
		return fmt.Sprintf("instruction changed (was %q at line %d)", shortText(bi), bi.Line)
	}
	if in.Kind != "ARG" && configValue(in) != configValue(bi) {
		return "the value it sets changed"
	}
	return ""
}

// configValue is what a configuration instruction sets, after expansion.
func configValue(in *Instruction) string {
	pairs := func(kvs instructions.KeyValuePairs) string {
		var b strings.Builder
		for _, kv := range kvs {
			fmt.Fprintf(&b, "%q=%q ", kv.Key, kv.Value)
		}
		return b.String()
	}
	switch c := in.Command.(type) {
	case *instructions.EnvCommand:
		return pairs(c.Env)
	case *instructions.LabelCommand:
		return pairs(c.Labels)
	case *instructions.UserCommand:
		return c.User
	case *instructions.ExposeCommand:
		return strings.Join(c.Ports, " ")
	case *instructions.VolumeCommand:
		return strings.Join(c.Volumes, " ")
	case *instructions.StopSignalCommand:
		return c.Signal
	}
	return ""
}

// fromChanged says why a --from source (a stage or an image) changed, or "".
func (p *predictor) fromChanged(from string) string {
	hs := p.head.Stage(from)
	if hs == nil {
		if p.base.Stage(from) != nil {
			return fmt.Sprintf("--from=%s was a stage and is now an image", from)
		}
		return "" // an image reference, unchanged as written
	}
	if sp := p.stages[hs.Index]; sp != nil {
		if fm := sp.FirstMiss(); fm != nil {
			return fmt.Sprintf("stage %s rebuilds from line %d", sp.Stage, fm.Line)
		}
	}
	return ""
}

func describeChanged(changed []string, count int) string {
	s := strings.Join(changed, ", ")
	if count > len(changed) {
		s += fmt.Sprintf(" and %d more", count-len(changed))
	}
	return s + " changed"
}

// normalize makes instruction texts comparable across line continuations.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

func diffVars(what string, old, new map[string]string) string {
	keys := slices.Sorted(maps.Keys(new))
	for k := range old {
		if _, ok := new[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		ov, ook := old[k]
		nv, nok := new[k]
		switch {
		case !ook:
			return fmt.Sprintf("%s %s added", what, k)
		case !nok:
			return fmt.Sprintf("%s %s removed", what, k)
		case ov != nv:
			return fmt.Sprintf("%s %s changed", what, k)
		}
	}
	return ""
}

// isModDownload reports whether a RUN script downloads modules: "go mod
// download" (or "go mod vendor").
func isModDownload(script string) bool {
	f := strings.Join(strings.Fields(script), " ")
	return strings.Contains(f, "go mod download")
}

// diffFiles returns the context files under sources (after .dockerignore
// and the exclude patterns) that differ between base and head: added,
// removed, or changed in content or mode.
func (p *predictor) diffFiles(sources, exclude []string) ([]string, int, error) {
	in := &Instruction{Command: &instructions.CopyCommand{SourcesAndDest: instructions.SourcesAndDest{SourcePaths: sources}, ExcludePatterns: exclude}}
	hf, err := p.head.Sources(in)
	if err != nil {
		return nil, 0, err
	}
	bf, err := p.base.Sources(in)
	if err != nil {
		return nil, 0, err
	}
	var changed []string
	count := 0
	add := func(f string) {
		count++
		if len(changed) < maxChanged {
			changed = append(changed, f)
		}
	}
	i, j := 0, 0
	for i < len(bf) || j < len(hf) {
		switch {
		case j == len(hf) || i < len(bf) && bf[i] < hf[j]:
			add(bf[i])
			i++
		case i == len(bf) || hf[j] < bf[i]:
			add(hf[j])
			j++
		default:
			bid, err := p.id(0, bf[i])
			if err != nil {
				return nil, 0, err
			}
			hid, err := p.id(1, hf[j])
			if err != nil {
				return nil, 0, err
			}
			if bid != hid {
				add(hf[j])
			}
			i++
			j++
		}
	}
	return changed, count, nil
}

// objectIDer is implemented by gitfs.FS: the blob id and git mode of a
// file without reading it.
type objectIDer interface {
	ObjectID(name string) (string, fs.FileMode, error)
}

// id returns a file's identity for the cache: its mode (regular,
// executable or symbolic link) and the git blob hash of its content (of
// the link target for a symbolic link), so a git revision and a directory
// compare alike.
func (p *predictor) id(which int, name string) (string, error) {
	if v, ok := p.ids[which][name]; ok {
		return v, nil
	}
	b := p.base
	if which == 1 {
		b = p.head
	}
	if p.buf == nil {
		p.buf = make([]byte, 32<<10)
	}
	v, err := fileID(b.Context, name, p.buf)
	if err != nil {
		return "", err
	}
	p.ids[which][name] = v
	return v, nil
}

func fileID(fsys fs.FS, name string, buf []byte) (string, error) {
	if g, ok := fsys.(objectIDer); ok {
		oid, mode, err := g.ObjectID(name)
		if err != nil {
			return "", err
		}
		return gitMode(mode) + " " + oid, nil
	}
	fi, err := fs.Lstat(fsys, name)
	if err != nil {
		return "", err
	}
	h := sha1.New()
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := fs.ReadLink(fsys, name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "blob %d\x00%s", len(target), target)
	} else {
		f, err := fsys.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		fmt.Fprintf(h, "blob %d\x00", fi.Size())
		n, err := io.CopyBuffer(h, onlyReader{f}, buf)
		if err != nil {
			return "", err
		}
		if n != fi.Size() {
			return "", fmt.Errorf("reading %s: file changed while being read", name)
		}
	}
	return gitMode(fi.Mode()) + " " + hex.EncodeToString(h.Sum(nil)), nil
}

// gitMode reduces a file mode to what git records: symlink, executable or
// regular.
func gitMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "120000"
	case m&0o111 != 0:
		return "100755"
	}
	return "100644"
}

// heredocs returns the inline sources of a COPY or ADD, joined.
func heredocs(in *Instruction) string {
	var parts []string
	switch c := in.Command.(type) {
	case *instructions.CopyCommand:
		for _, sc := range c.SourceContents {
			parts = append(parts, sc.Path+"\x00"+sc.Data)
		}
	case *instructions.AddCommand:
		for _, sc := range c.SourceContents {
			parts = append(parts, sc.Path+"\x00"+sc.Data)
		}
	}
	return strings.Join(parts, "\x00")
}

// onlyReader hides a file's WriterTo so io.CopyBuffer uses the buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
