package reports

import (
	"fmt"
	"strings"
)

// ProtocolVersion is the version of the JSON documents this package writes.
const ProtocolVersion = 1

// Severity orders findings: Info < Warning < Error. The zero value is no
// severity (used by --fail-on none).
type Severity int

const (
	Info Severity = iota + 1
	Warning
	Error
)

var severityNames = []string{"none", "info", "warning", "error"}

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses "info", "warning", "error" or "none".
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(n, s) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want error, warning, info or none)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Rule describes a check that produces findings.
type Rule struct {
	ID       string   `json:"id"`       // stable, e.g. "CC001"
	Slug     string   `json:"slug"`     // short name, e.g. "source-before-download"
	Severity Severity `json:"severity"` // default severity of its findings
	Summary  string   `json:"summary"`  // one line
	Help     string   `json:"help"`     // why it matters and what to do
}

// Finding is one problem at one place.
type Finding struct {
	Rule     string   `json:"rule"` // the rule ID
	Slug     string   `json:"slug"`
	Severity Severity `json:"severity"`
	File     string   `json:"file"`            // slash-separated, as given
	Line     int      `json:"line"`            // from 1
	EndLine  int      `json:"end_line"`        // the last line of the instruction
	Stage    string   `json:"stage,omitempty"` // the build stage, by name or index
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
	// Edits, when the fix is mechanical, are the changes that make it;
	// Fix is then their description. cachecheck analyze --fix applies them.
	Edits []Edit `json:"edits,omitempty"`
}

// Edit is one change to a file that fixes a finding: it replaces lines
// Line through EndLine with Text. EndLine = Line-1 inserts Text before
// Line (Line one past the last line appends); Text "" removes the lines.
// Text is whole lines, each ending in "\n".
type Edit struct {
	// File is "" for the finding's file, or another file by the name
	// findings use (a .dockerignore), which may not exist yet.
	File    string `json:"file,omitempty"`
	Line    int    `json:"line"`
	EndLine int    `json:"end_line"`
	Text    string `json:"text"`
}

// Insert reports whether e inserts lines without replacing any.
func (e Edit) Insert() bool { return e.EndLine < e.Line }

// Position returns "file:line".
func (f *Finding) Position() string { return fmt.Sprintf("%s:%d", f.File, f.Line) }
