package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Prediction is the layer cache of a build of Head right after a build of
// Base, step by step, as BuildKit decides it (`cachecheck analyze --base`,
// and the Dockerfile section of a Report).
type Prediction struct {
	Header
	Base string `json:"base"` // the revision or directory built first
	Head string `json:"head"` // the one built next
	// ModuleDownloadReused says whether every module download layer is
	// reused; nil when the Dockerfile has no download step.
	ModuleDownloadReused *bool            `json:"module_download_reused"`
	Stages               []PredictedStage `json:"stages"`
	// FirstMiss is the first step predicted to rebuild; nil when every
	// layer is reused.
	FirstMiss *StepRef `json:"first_miss"`
}

// PredictedStage is the prediction for one build stage of head.
type PredictedStage struct {
	Stage string          `json:"stage"` // its name ("build") or index ("1")
	Line  int             `json:"line"`  // its FROM's line
	Steps []PredictedStep `json:"steps"`
}

// PredictedStep is one instruction that makes a layer, predicted reused
// (HIT) or rebuilt (MISS).
type PredictedStep struct {
	Index int    `json:"index"` // in its stage from 1, as BuildKit counts ("[build 4/6]")
	Kind  string `json:"kind"`  // FROM, RUN, COPY, ADD or WORKDIR
	Line  int    `json:"line"`
	Text  string `json:"text"`  // the instruction as written
	Cache string `json:"cache"` // "HIT" or "MISS"
	// Reason says why it misses: "COPY . . misses: cmd/api/main.go
	// changed", or "after the miss at line 9".
	Reason string `json:"reason,omitempty"`
	// Changed lists the first changed context files that make it miss;
	// ChangedCount counts them all.
	Changed        []string `json:"changed,omitempty"`
	ChangedCount   int      `json:"changed_count,omitempty"`
	ModuleDownload bool     `json:"module_download,omitempty"` // it runs go mod download
}

// StepRef names a step of a stage.
type StepRef struct {
	Stage  string `json:"stage"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// CacheWord is a PredictedStep's Cache: "HIT" or "MISS".
func CacheWord(hit bool) string {
	if hit {
		return "HIT"
	}
	return "MISS"
}

// Hit reports whether the step's layer is predicted to be reused.
func (s *PredictedStep) Hit() bool { return s.Cache == "HIT" }

// Kind is "prediction".
func (*Prediction) Kind() string { return "prediction" }

// MarshalJSON writes the prediction with its Header filled in, also where
// it is part of a Report: the object can be taken out and rendered alone.
func (p *Prediction) MarshalJSON() ([]byte, error) {
	type plain Prediction
	q := plain(*p)
	q.Header = Header{ProtocolVersion: ProtocolVersion, DocKind: p.Kind()}
	if q.Stages == nil {
		q.Stages = []PredictedStage{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&q); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// WriteText renders the prediction as a table, then the first miss and
// what becomes of the module download layer.
func (p *Prediction) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "layer cache of %s after building %s (predicted as BuildKit decides):\n", p.Head, p.Base)
	if err := p.writeTable(w, ColumnWidth{Column: 2, Width: 48}, ColumnWidth{Column: 4, Width: 60}); err != nil {
		return err
	}
	first := "none: every layer is reused"
	if fm := p.FirstMiss; fm != nil {
		first = fmt.Sprintf("stage %s line %d: %s", fm.Stage, fm.Line, fm.Reason)
	}
	fmt.Fprintf(w, "first miss: %s\n", first)
	download := "none (no RUN go mod download)"
	if r := p.ModuleDownloadReused; r != nil {
		download = "rebuilt"
		if *r {
			download = "reused"
		}
	}
	_, err := fmt.Fprintf(w, "module download layer: %s\n", download)
	return err
}

// writeTable writes one row per step: stage, line, instruction, HIT or
// MISS and why it misses.
func (p *Prediction) writeTable(w io.Writer, widths ...ColumnWidth) error {
	t := NewTable(w, widths...)
	t.Header("STAGE", "LINE", "INSTRUCTION", "CACHE", "WHY")
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			if err := t.Append(st.Stage, strconv.Itoa(s.Line), instructionLine(s.Text), s.Cache, s.why()); err != nil {
				return fmt.Errorf("rendering the prediction: %w", err)
			}
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("rendering the prediction: %w", err)
	}
	return nil
}

// writeMarkdownTable is writeTable for a pull-request comment.
func (p *Prediction) writeMarkdownTable(b *strings.Builder) {
	fmt.Fprintf(b, "| stage | line | instruction | cache | why |\n| --- | ---: | --- | --- | --- |\n")
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			cache := s.Cache
			if !s.Hit() {
				cache = "**" + cache + "**"
			}
			fmt.Fprintf(b, "| %s | %d | `%s` | %s | %s |\n", mdCell(st.Stage), s.Line, mdCode(instructionLine(s.Text)), cache, mdCell(s.why()))
		}
	}
}

// why is the reason a step misses; "" for a hit.
func (s *PredictedStep) why() string {
	if s.Hit() {
		return ""
	}
	return s.Reason
}

// instructionLine is an instruction on one line of at most 90 characters.
func instructionLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}
