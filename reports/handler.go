package reports

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Handler receives the stream of findings and renders it. Flush writes
// what a renderer holds back (a table, a document) and must be called once
// at the end.
type Handler interface {
	Finding(*Finding) error
	Flush() error
}

// Meta describes the run: the tool and the rules findings can refer to.
type Meta struct {
	Tool    string  `json:"name"`
	Version string  `json:"version"`
	URI     string  `json:"-"` // informationUri in SARIF, optional
	Rules   []*Rule `json:"-"`
}

func (m Meta) rule(id string) (*Rule, int) {
	for i, r := range m.Rules {
		if r.ID == id {
			return r, i
		}
	}
	return nil, -1
}

// NewText returns a Handler that prints the findings as a table, one row
// per finding with its fix, then a one-line summary.
func NewText(w io.Writer) Handler { return &textHandler{w: w} }

type textHandler struct {
	w        io.Writer
	findings []*Finding
}

func (h *textHandler) Finding(f *Finding) error {
	h.findings = append(h.findings, f)
	return nil
}

func (h *textHandler) Flush() error {
	if len(h.findings) == 0 {
		_, err := fmt.Fprintln(h.w, "no findings")
		return err
	}
	t := NewTable(h.w, ColumnWidth{0, 28}, ColumnWidth{3, 72})
	t.Header("LOCATION", "RULE", "SEVERITY", "FINDING AND FIX")
	count := map[Severity]int{}
	for _, f := range h.findings {
		count[f.Severity]++
		rule := f.Rule
		if f.Slug != "" {
			rule += "\n" + f.Slug
		}
		if err := t.Append(f.Position(), rule, f.Severity.String(), f.Message+"\nfix: "+f.Fix); err != nil {
			return fmt.Errorf("rendering findings: %w", err)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("rendering findings: %w", err)
	}
	var parts []string
	for _, s := range []Severity{Error, Warning, Info} {
		if n := count[s]; n > 0 {
			name := s.String()
			if n > 1 {
				name += "s"
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, name))
		}
	}
	noun := "findings"
	if len(h.findings) == 1 {
		noun = "finding"
	}
	_, err := fmt.Fprintf(h.w, "%d %s: %s\n", len(h.findings), noun, strings.Join(parts, ", "))
	return err
}

// Document is the JSON form of a run, a Doc of kind "findings": the tool,
// the rules its findings refer to and the findings. It can be read back
// with ReadJSON or Read, and replayed into any Handler; Write renders it
// as text, JSON or SARIF.
type Document struct {
	Header
	Tool     Meta       `json:"tool"`
	Rules    []*Rule    `json:"rules"`
	Findings []*Finding `json:"findings"`
}

// Kind is "findings".
func (*Document) Kind() string { return "findings" }

// MarshalJSON writes the document as the findings JSON always was: with
// <, > and & escaped (\u003c, \u003e, \u0026), as encoding/json does by
// default, and empty lists as [].
func (d *Document) MarshalJSON() ([]byte, error) {
	type plain Document
	q := plain(*d)
	if q.Rules == nil {
		q.Rules = []*Rule{}
	}
	if q.Findings == nil {
		q.Findings = []*Finding{}
	}
	return json.Marshal(&q)
}

// WriteText renders the findings as the text handler does.
func (d *Document) WriteText(w io.Writer) error { return d.replay(NewText(w)) }

// WriteSARIF renders the findings as a SARIF log, with the document's
// rules.
func (d *Document) WriteSARIF(w io.Writer) error { return d.replay(NewSARIF(w, d.meta())) }

// meta is the document's tool, with its rules.
func (d *Document) meta() Meta {
	m := d.Tool
	m.Rules = d.Rules
	return m
}

// replay sends the findings to h and flushes it.
func (d *Document) replay(h Handler) error {
	for _, f := range d.Findings {
		if err := h.Finding(f); err != nil {
			return err
		}
	}
	return h.Flush()
}

// NewJSON returns a Handler that writes one indented JSON Document with
// the findings and the rules they refer to.
func NewJSON(w io.Writer, meta Meta) Handler {
	return &jsonHandler{w: w, doc: Document{Tool: meta, Rules: []*Rule{}, Findings: []*Finding{}}}
}

type jsonHandler struct {
	w   io.Writer
	doc Document
}

func (h *jsonHandler) Finding(f *Finding) error {
	h.doc.Findings = append(h.doc.Findings, f)
	if r, _ := h.doc.Tool.rule(f.Rule); r != nil && !containsRule(h.doc.Rules, r.ID) {
		h.doc.Rules = append(h.doc.Rules, r)
	}
	return nil
}

func containsRule(rules []*Rule, id string) bool {
	for _, r := range rules {
		if r.ID == id {
			return true
		}
	}
	return false
}

func (h *jsonHandler) Flush() error {
	// The rules in the tool's order, so that a replay into SARIF gives
	// the same rule indexes.
	slices.SortStableFunc(h.doc.Rules, func(a, b *Rule) int {
		_, i := h.doc.Tool.rule(a.ID)
		_, j := h.doc.Tool.rule(b.ID)
		return i - j
	})
	return writeJSON(h.w, &h.doc)
}

// ReadJSON reads a Document written by the JSON handler and replays its
// findings into the Handler that h returns for the document's tool and
// rules, then flushes it.
func ReadJSON(r io.Reader, h func(Meta) Handler) error {
	var doc Document
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return fmt.Errorf("reading findings JSON: %w", err)
	}
	if doc.ProtocolVersion != ProtocolVersion {
		return fmt.Errorf("reading findings JSON: protocol_version %d, want %d", doc.ProtocolVersion, ProtocolVersion)
	}
	if doc.DocKind != "" && doc.DocKind != doc.Kind() {
		return fmt.Errorf("reading findings JSON: it is a %q document, not %q", doc.DocKind, doc.Kind())
	}
	return doc.replay(h(doc.meta()))
}

// NewSARIF returns a Handler that writes a SARIF 2.1.0 log for code
// scanning: one run, the tool's rules, one result per finding.
func NewSARIF(w io.Writer, meta Meta) Handler { return &sarifHandler{w: w, meta: meta} }

type sarifHandler struct {
	w       io.Writer
	meta    Meta
	results []sarifResult
}

type (
	sarifLog struct {
		Version string     `json:"version"`
		Schema  string     `json:"$schema"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string       `json:"id"`
		Name                 string       `json:"name"`
		ShortDescription     sarifText    `json:"shortDescription"`
		FullDescription      sarifText    `json:"fullDescription"`
		Help                 sarifText    `json:"help"`
		DefaultConfiguration sarifDefault `json:"defaultConfiguration"`
	}
	sarifDefault struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints"`
		Fixes               []sarifFix        `json:"fixes,omitempty"`
	}
	sarifFix struct {
		Description     sarifText     `json:"description"`
		ArtifactChanges []sarifChange `json:"artifactChanges"`
	}
	sarifChange struct {
		ArtifactLocation sarifArtifact      `json:"artifactLocation"`
		Replacements     []sarifReplacement `json:"replacements"`
	}
	sarifReplacement struct {
		DeletedRegion   sarifEditRegion `json:"deletedRegion"`
		InsertedContent *sarifText      `json:"insertedContent,omitempty"`
	}
	sarifEditRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
		EndLine     int `json:"endLine,omitempty"`
		EndColumn   int `json:"endColumn,omitempty"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical `json:"physicalLocation"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           sarifRegion   `json:"region"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
		EndLine   int `json:"endLine"`
	}
)

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

func (h *sarifHandler) Finding(f *Finding) error {
	_, idx := h.meta.rule(f.Rule)
	if idx < 0 {
		return fmt.Errorf("SARIF: finding of unknown rule %q", f.Rule)
	}
	sum := sha256.Sum256([]byte(f.Rule + "\x00" + f.File + "\x00" + f.Stage + "\x00" + f.Message))
	h.results = append(h.results, sarifResult{
		RuleID:    f.Rule,
		RuleIndex: idx,
		Level:     sarifLevel(f.Severity),
		Message:   sarifText{f.Message + ". Fix: " + f.Fix},
		Locations: []sarifLocation{{sarifPhysical{sarifArtifact{f.File}, sarifRegion{f.Line, max(f.EndLine, f.Line)}}}},
		PartialFingerprints: map[string]string{
			"cachecheckFinding/v1": hex.EncodeToString(sum[:16]),
		},
		Fixes: sarifFixes(f),
	})
	return nil
}

// sarifFixes turns the finding's edits into one SARIF fix: an insertion
// is an empty region at column 1 of its line; a replacement deletes whole
// lines, from column 1 of Line to column 1 of the line after EndLine.
func sarifFixes(f *Finding) []sarifFix {
	if len(f.Edits) == 0 {
		return nil
	}
	var changes []sarifChange
	for _, e := range f.Edits {
		file := cmp.Or(e.File, f.File)
		i := slices.IndexFunc(changes, func(c sarifChange) bool { return c.ArtifactLocation.URI == file })
		if i < 0 {
			changes = append(changes, sarifChange{ArtifactLocation: sarifArtifact{file}})
			i = len(changes) - 1
		}
		r := sarifReplacement{DeletedRegion: sarifEditRegion{StartLine: e.Line, StartColumn: 1, EndLine: e.Line, EndColumn: 1}}
		if !e.Insert() {
			r.DeletedRegion.EndLine = e.EndLine + 1
		}
		if e.Text != "" {
			r.InsertedContent = &sarifText{e.Text}
		}
		changes[i].Replacements = append(changes[i].Replacements, r)
	}
	return []sarifFix{{Description: sarifText{f.Fix}, ArtifactChanges: changes}}
}

func (h *sarifHandler) Flush() error {
	rules := make([]sarifRule, 0, len(h.meta.Rules))
	for _, r := range h.meta.Rules {
		rules = append(rules, sarifRule{
			ID: r.ID, Name: r.Slug,
			ShortDescription:     sarifText{r.Summary},
			FullDescription:      sarifText{r.Help},
			Help:                 sarifText{r.Summary + ". " + r.Help},
			DefaultConfiguration: sarifDefault{sarifLevel(r.Severity)},
		})
	}
	results := h.results
	if results == nil {
		results = []sarifResult{}
	}
	log := sarifLog{
		Version: "2.1.0",
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Runs: []sarifRun{{
			Tool:    sarifTool{sarifDriver{Name: h.meta.Tool, Version: h.meta.Version, InformationURI: h.meta.URI, Rules: rules}},
			Results: results,
		}},
	}
	enc := json.NewEncoder(h.w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
