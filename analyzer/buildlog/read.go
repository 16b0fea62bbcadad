package buildlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Step is one Dockerfile instruction as a builder ran it, read from the
// builder's output.
type Step struct {
	// Stage is the stage's name ("build"), or as the builder names an
	// unnamed stage ("stage-1" for BuildKit, the stage number for buildah).
	Stage string
	// Index and Total place the step in its stage, from 1 (BuildKit's
	// "[build 4/6]"; buildah's "STEP 4/6").
	Index, Total int
	// Instruction is the instruction text as the builder printed it:
	// "RUN go mod download".
	Instruction string
	// Cached reports whether the builder reused the layer.
	Cached bool
	// Started and Completed are the times the builder printed; zero when
	// its output has none (BuildKit plain, buildah).
	Started, Completed time.Time
	// Duration is the time the step took, when the output says.
	Duration time.Duration
	// Error is the builder's error for the step, or "".
	Error string
}

// Kind returns the upper-case instruction name of the step: RUN, COPY, ...
func (s Step) Kind() string {
	k, _, _ := strings.Cut(s.Instruction, " ")
	return strings.ToUpper(k)
}

func (s Step) String() string {
	state := "ran"
	switch {
	case s.Error != "":
		state = "error"
	case s.Cached:
		state = "cached"
	}
	return fmt.Sprintf("[%s %d/%d] %s: %s", s.Stage, s.Index, s.Total, s.Instruction, state)
}

// Error is a build log that cannot be read; it prints as
// "build log line 12: message".
type Error struct {
	Line int // from 1; 0 when the problem is the log as a whole
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("build log line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("build log: %v", e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// maxLogLine bounds one line of a build log; BuildKit's rawjson lines carry
// base64 output chunks, well below this.
const maxLogLine = 4 << 20

// maxStepLogLine bounds one line where Detect and the readers of what
// steps printed look.
const maxStepLogLine = 16 << 20

func newScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLogLine)
	return sc
}

func scanErr(sc *bufio.Scanner, line int) error {
	if err := sc.Err(); err != nil {
		return &Error{Line: line + 1, Err: err}
	}
	return nil
}

// stepName matches BuildKit's vertex names for Dockerfile instructions:
// "[build 4/6] RUN go mod download".
// A single-stage build has no stage name: "[2/2] RUN make".
var stepName = regexp.MustCompile(`^\[(?:(\S+) +)? *(\d+)/(\d+)\] (.*)$`)

func parseStepName(name string) (Step, bool) {
	m := stepName.FindStringSubmatch(name)
	if m == nil {
		return Step{}, false
	}
	i, err1 := strconv.Atoi(m[2])
	n, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil {
		return Step{}, false
	}
	return Step{Stage: m[1], Index: i, Total: n, Instruction: m[4]}, true
}

// vertex is the part of BuildKit's client.Vertex that rawjson prints.
type vertex struct {
	Digest    string     `json:"digest"`
	Name      string     `json:"name"`
	Started   *time.Time `json:"started"`
	Completed *time.Time `json:"completed"`
	Cached    bool       `json:"cached"`
	Error     string     `json:"error"`
}

// readBuildKitJSON reads the output of "buildctl build --progress=rawjson"
// (or "docker buildx build --progress=rawjson"): one JSON status object per
// line. It returns the Dockerfile steps in the order they first appear;
// BuildKit's internal vertices (loading the Dockerfile, the context) are
// left out. A step that never completes means a truncated log.
func readBuildKitJSON(r io.Reader) ([]Step, error) {
	sc := newScanner(r)
	var steps []Step
	byDigest := map[string]int{}
	statuses := 0
	open := map[string]int{} // digest -> line where it started, for truncation errors
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "{") {
			// buildctl prints a failed build's error, with the
			// Dockerfile excerpt, after the stream.
			continue
		}
		statuses++
		var st struct {
			Vertexes []vertex `json:"vertexes"`
		}
		if err := json.Unmarshal([]byte(text), &st); err != nil {
			return nil, &Error{Line: line, Err: err}
		}
		for _, v := range st.Vertexes {
			if v.Digest == "" {
				return nil, &Error{Line: line, Err: errors.New("vertex without a digest")}
			}
			step, ok := parseStepName(v.Name)
			if !ok {
				continue
			}
			i, seen := byDigest[v.Digest]
			if !seen {
				i = len(steps)
				byDigest[v.Digest] = i
				steps = append(steps, step)
			}
			s := &steps[i]
			if v.Started != nil && (s.Started.IsZero() || v.Started.Before(s.Started)) {
				s.Started = *v.Started
			}
			if v.Started != nil && v.Completed == nil {
				open[v.Digest] = line
			}
			if v.Completed != nil {
				delete(open, v.Digest)
				if v.Completed.After(s.Completed) {
					s.Completed = *v.Completed
				}
				s.Duration = s.Completed.Sub(s.Started)
			}
			s.Cached = s.Cached || v.Cached
			if v.Error != "" {
				s.Error = v.Error
			}
		}
	}
	if err := scanErr(sc, line); err != nil {
		return nil, err
	}
	if statuses == 0 {
		return nil, &Error{Err: errors.New("no JSON status lines: not BuildKit rawjson output")}
	}
	// BuildKit announces the vertices last first; put the stages in the
	// order they started and the steps of each in Dockerfile order.
	rank := map[string]time.Time{}
	for _, s := range steps {
		if t, ok := rank[s.Stage]; !ok || !s.Started.IsZero() && (t.IsZero() || s.Started.Before(t)) {
			rank[s.Stage] = s.Started
		}
	}
	sortSteps(steps, func(a, b string) int {
		ta, tb := rank[a], rank[b]
		switch {
		case ta.Equal(tb):
			return strings.Compare(a, b)
		case ta.IsZero(): // never started: after the others
			return 1
		case tb.IsZero():
			return -1
		}
		return ta.Compare(tb)
	})
	if d, at, ok := earliest(open); ok {
		return nil, &Error{Line: at, Err: fmt.Errorf("step %q started here never completes: the log is truncated", steps[byDigest[d]].Instruction)}
	}
	return mergeDuplicates(steps), nil
}

// plainLine matches a line of BuildKit's plain progress: "#12 ..." .
var plainLine = regexp.MustCompile(`^#(\d+) (.*)$`)

// plainDone matches "DONE 1.2s".
var plainDone = regexp.MustCompile(`^DONE (\d+(?:\.\d+)?)s$`)

// readBuildKitPlain reads the output of "buildctl build --progress=plain"
// (or "docker build --progress=plain"): "#N [stage i/n] INSTRUCTION"
// followed by "#N CACHED", "#N DONE 1.2s" or "#N ERROR: ...". Lines that do
// not start with "#N " (the error summary) are skipped. A step that never
// finishes means a truncated log.
func readBuildKitPlain(r io.Reader) ([]Step, error) {
	sc := newScanner(r)
	var steps []Step
	byID := map[int]int{}
	named := map[int]bool{} // vertices announced, including internal ones
	open := map[int]int{}   // id -> line where it was announced
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if !strings.HasPrefix(text, "#") {
			continue
		}
		m := plainLine.FindStringSubmatch(text)
		if m == nil {
			return nil, &Error{Line: line, Err: fmt.Errorf("want \"#N text\", got %.40q", text)}
		}
		id, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, &Error{Line: line, Err: fmt.Errorf("vertex number %q: %w", m[1], err)}
		}
		rest := m[2]
		if !named[id] {
			named[id] = true
			open[id] = line
			if step, ok := parseStepName(rest); ok {
				byID[id] = len(steps)
				steps = append(steps, step)
			}
			continue
		}
		i, isStep := byID[id]
		switch {
		case rest == "CACHED":
			delete(open, id)
			if isStep {
				steps[i].Cached = true
			}
		case strings.HasPrefix(rest, "DONE "):
			dm := plainDone.FindStringSubmatch(rest)
			if dm == nil {
				return nil, &Error{Line: line, Err: fmt.Errorf("want \"DONE <seconds>s\", got %.40q", rest)}
			}
			delete(open, id)
			if isStep {
				sec, _ := strconv.ParseFloat(dm[1], 64)
				steps[i].Duration = time.Duration(sec * float64(time.Second))
			}
		case strings.HasPrefix(rest, "ERROR:"), rest == "CANCELED":
			delete(open, id)
			if isStep {
				steps[i].Error = strings.TrimSpace(strings.TrimPrefix(rest, "ERROR:"))
			}
		}
	}
	if err := scanErr(sc, line); err != nil {
		return nil, err
	}
	first := map[string]int{}
	for i, s := range steps {
		if _, ok := first[s.Stage]; !ok {
			first[s.Stage] = i
		}
	}
	sortSteps(steps, func(a, b string) int { return first[a] - first[b] })
	if id, at, ok := earliest(open); ok {
		return nil, &Error{Line: at, Err: fmt.Errorf("vertex #%d announced here never finishes: the log is truncated", id)}
	}
	return mergeDuplicates(steps), nil
}

// buildahStep matches "[1/2] STEP 3/8: COPY go.mod go.sum ./" (the stage
// prefix is absent in single-stage builds).
var buildahStep = regexp.MustCompile(`^(?:\[(\d+)/(\d+)\] )?STEP (\d+)/(\d+): (.*)$`)

// buildahFromName finds the stage name in a FROM instruction.
var buildahFromName = regexp.MustCompile(`(?i)\s+AS\s+(\S+)\s*$`)

// readBuildah reads the output of "buildah bud --layers" and of "podman
// build" (podman builds with buildah's library and prints the same): "STEP
// n/m: INSTRUCTION" lines, each followed by "--> Using cache
// ID" when the layer is reused. Steps have no times: buildah prints none.
func readBuildah(r io.Reader) ([]Step, error) {
	sc := newScanner(r)
	var steps []Step
	stageNames := map[string]string{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if m := buildahStep.FindStringSubmatch(text); m != nil {
			stage := m[1]
			if stage == "" {
				stage = "1"
			}
			i, err1 := strconv.Atoi(m[3])
			n, err2 := strconv.Atoi(m[4])
			if err1 != nil || err2 != nil || i < 1 || i > n {
				return nil, &Error{Line: line, Err: fmt.Errorf("bad step number in %.60q", text)}
			}
			in := m[5]
			if i == 1 {
				if nm := buildahFromName.FindStringSubmatch(in); nm != nil && strings.HasPrefix(strings.ToUpper(in), "FROM ") {
					stageNames[stage] = strings.ToLower(nm[1])
				}
			}
			name := stage
			if n, ok := stageNames[stage]; ok {
				name = n
			}
			steps = append(steps, Step{Stage: name, Index: i, Total: n, Instruction: in})
			continue
		}
		switch {
		case strings.HasPrefix(text, "--> Using cache "):
			if len(steps) == 0 {
				return nil, &Error{Line: line, Err: errors.New("\"--> Using cache\" before any STEP")}
			}
			steps[len(steps)-1].Cached = true
		case strings.HasPrefix(text, "Error: "), strings.HasPrefix(text, "error building at STEP"):
			if len(steps) > 0 {
				steps[len(steps)-1].Error = strings.TrimPrefix(text, "Error: ")
			}
		}
	}
	if err := scanErr(sc, line); err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, &Error{Err: errors.New("no \"STEP n/m:\" lines: not buildah output")}
	}
	return steps, nil
}

// earliest returns the entry of open with the smallest line.
func earliest[K comparable](open map[K]int) (key K, line int, ok bool) {
	for k, l := range open {
		if !ok || l < line {
			key, line, ok = k, l, true
		}
	}
	return key, line, ok
}

// sortSteps orders steps by stage, as compareStages orders them, then by
// index within the stage.
func sortSteps(steps []Step, compareStages func(a, b string) int) {
	slices.SortStableFunc(steps, func(a, b Step) int {
		if a.Stage != b.Stage {
			return compareStages(a.Stage, b.Stage)
		}
		return a.Index - b.Index
	})
}

// dockerStep matches the classic builder's step line: "Step 4/12 : RUN go
// mod download" (before Docker 1.13, "Step 4 : RUN ...", without the
// total).
var dockerStep = regexp.MustCompile(`^Step (\d+)(?:/(\d+))? : (.*)$`)

// dockerFailed matches the classic builder's errors for a failing step: a
// RUN whose command failed, and a step it refuses or cannot do: a RUN
// with a flag ("the --mount option requires BuildKit. Refer to …"), a
// COPY or ADD of a missing file ("COPY failed: file not found in build
// context …").
var dockerFailed = regexp.MustCompile(`The command .* returned a non-zero code: \d+|^the --[a-z-]+ option requires BuildKit\b.*|^(?:COPY|ADD) failed: .*`)

// sgr matches a terminal color sequence: the classic docker builder's
// command prints what a RUN step writes to stderr in red
// ("\x1b[91m…\x1b[0m").
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// stripSGR removes the terminal color sequences from a line.
func stripSGR(line string) string {
	if !strings.Contains(line, "\x1b") {
		return line
	}
	return sgr.ReplaceAllString(line, "")
}

// readDocker reads the output of the classic docker builder ("docker
// build" with DOCKER_BUILDKIT=0, and docker-compose v1): "Step n/m :
// INSTRUCTION", then " ---> Using cache" when the layer is reused or
// " ---> Running in ID" when it is run, and "Successfully built ID" at the
// end. The classic builder numbers steps across the whole Dockerfile, so
// Index and Total count in the Dockerfile, not in the stage; stages are
// named by their "AS name", else "stage-N" (from 0) as BuildKit names
// them. Steps have no times. A log that stops after a step without
// "Successfully built" or an error is truncated.
func readDocker(r io.Reader) ([]Step, error) {
	sc := newScanner(r)
	var steps []Step
	stage, stages := "", 0
	lastLine := 0 // line of the last step, while the build is not finished
	prev := 0     // number of the previous step
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(stripSGR(strings.TrimRight(sc.Text(), "\r")))
		if m := dockerStep.FindStringSubmatch(text); m != nil {
			i, err := strconv.Atoi(m[1])
			n := 0
			if err == nil && m[2] != "" {
				n, err = strconv.Atoi(m[2])
			}
			switch {
			case err != nil || i < 1 || (m[2] != "" && i > n):
				return nil, &Error{Line: line, Err: fmt.Errorf("bad step number in %.60q", text)}
			case i == 1 && prev > 0 && lastLine == 0:
				// A second build in the same log (docker-compose
				// builds one service after another).
				stage, stages = "", 0
			case i != prev+1:
				return nil, &Error{Line: line, Err: fmt.Errorf("step %d follows step %d", i, prev)}
			}
			prev = i
			in := m[3]
			if strings.HasPrefix(strings.ToUpper(in), "FROM ") {
				stage = fmt.Sprintf("stage-%d", stages)
				stages++
				if nm := buildahFromName.FindStringSubmatch(in); nm != nil {
					stage = strings.ToLower(nm[1])
				}
			}
			steps = append(steps, Step{Stage: stage, Index: i, Total: n, Instruction: in})
			lastLine = line
			continue
		}
		switch {
		case text == "---> Using cache":
			if lastLine == 0 {
				return nil, &Error{Line: line, Err: errors.New("\"---> Using cache\" outside a step")}
			}
			steps[len(steps)-1].Cached = true
		case strings.HasPrefix(text, "Successfully built "):
			if len(steps) == 0 {
				return nil, &Error{Line: line, Err: errors.New("\"Successfully built\" before any step")}
			}
			lastLine = 0
		case dockerFailed.MatchString(text):
			if lastLine == 0 {
				return nil, &Error{Line: line, Err: errors.New("a failed command outside a step")}
			}
			steps[len(steps)-1].Error = strings.TrimSpace(dockerFailed.FindString(text))
			lastLine = 0
		}
	}
	if err := scanErr(sc, line); err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, &Error{Err: errors.New("no \"Step n/m :\" lines: not classic docker builder output")}
	}
	if lastLine > 0 {
		return nil, &Error{Line: lastLine, Err: fmt.Errorf("step %q started here never finishes (no \"Successfully built\"): the log is truncated", steps[len(steps)-1].Instruction)}
	}
	return steps, nil
}

// mergeDuplicates folds steps BuildKit reported as two vertices (the same
// stage, index and instruction under different digests, as it does when it
// runs a COPY to checksum its content and then finds the layer cached) into
// one: cached when either was, spanning both. steps must be sorted.
func mergeDuplicates(steps []Step) []Step {
	out := steps[:0]
	for _, s := range steps {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.Stage == s.Stage && p.Index == s.Index && p.Instruction == s.Instruction {
				p.Cached = p.Cached || s.Cached
				if !s.Started.IsZero() && (p.Started.IsZero() || s.Started.Before(p.Started)) {
					p.Started = s.Started
				}
				if s.Completed.After(p.Completed) {
					p.Completed = s.Completed
				}
				p.Duration = max(p.Duration, s.Duration)
				if !p.Started.IsZero() && p.Completed.After(p.Started) {
					p.Duration = p.Completed.Sub(p.Started)
				}
				if p.Error == "" {
					p.Error = s.Error
				}
				continue
			}
		}
		out = append(out, s)
	}
	return out
}
