package reports

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

var testMeta = Meta{Tool: "cachecheck", Version: "test", Rules: []*Rule{
	{ID: "CC001", Slug: "a", Severity: Warning, Summary: "s", Help: "h"},
	{ID: "CC002", Slug: "b", Severity: Error, Summary: "s", Help: "h"},
}}

// TestJSONReplay checks that a JSON document replayed into a renderer
// gives the same bytes as rendering the findings directly.
func TestJSONReplay(t *testing.T) {
	findings := []*Finding{
		{Rule: "CC002", Slug: "b", Severity: Error, File: "Dockerfile", Line: 3, EndLine: 4, Stage: "build", Message: "m1", Fix: "f1"},
		{Rule: "CC001", Slug: "a", Severity: Warning, File: "Dockerfile", Line: 7, EndLine: 7, Message: "m2", Fix: "f2"},
	}
	for _, format := range []string{"text", "json", "sarif"} {
		mk := func(w *bytes.Buffer, m Meta) Handler {
			switch format {
			case "json":
				return NewJSON(w, m)
			case "sarif":
				return NewSARIF(w, m)
			}
			return NewText(w)
		}
		var direct, doc, replayed bytes.Buffer
		h, j := mk(&direct, testMeta), NewJSON(&doc, testMeta)
		for _, f := range findings {
			if err := h.Finding(f); err != nil {
				t.Fatal(err)
			}
			j.Finding(f)
		}
		h.Flush()
		j.Flush()
		if err := ReadJSON(&doc, func(m Meta) Handler { return mk(&replayed, m) }); err != nil {
			t.Fatal(err)
		}
		// SARIF lists every rule of the tool directly but only the used
		// ones after a replay; both list these two.
		if direct.String() != replayed.String() {
			t.Errorf("%s: replay differs:\n%s\nvs\n%s", format, direct.String(), replayed.String())
		}
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range []string{"none", "info", "warning", "error"} {
		v, err := ParseSeverity(s)
		if err != nil || v.String() != s {
			t.Errorf("ParseSeverity(%q) = %v, %v", s, v, err)
		}
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("ParseSeverity(fatal) succeeded")
	}
	if !(Info < Warning && Warning < Error) {
		t.Error("severities out of order")
	}
}

// TestImports pins that reports stays free of registry and image code.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "go-containerregistry") || strings.Contains(p, "cachecheck/internal") || strings.Contains(p, "cachecheck/analyzer") {
			t.Errorf("reports depends on %s", p)
		}
	}
}

// sampleFindings is the findings document of a run with findings of two
// rules.
func sampleFindings() *Document {
	return &Document{
		Tool:  Meta{Tool: "cachecheck", Version: "v1.2.3"},
		Rules: testMeta.Rules,
		Findings: []*Finding{
			{Rule: "CC002", Slug: "b", Severity: Error, File: "Dockerfile", Line: 3, EndLine: 4, Stage: "build",
				Message: `"RUN go build && go test" has <no> cache mount`, Fix: "add --mount=type=cache"},
			{Rule: "CC001", Slug: "a", Severity: Warning, File: "build/api.Dockerfile", Line: 7, EndLine: 7, Message: "m2", Fix: "f2"},
		},
	}
}

// TestFindingsDoc checks that the findings document renders through Write
// as the handlers render the same findings, in every format, and that
// its JSON keeps the HTML escapes the findings JSON always had.
func TestFindingsDoc(t *testing.T) {
	doc := sampleFindings()
	meta := doc.Tool
	meta.Rules = doc.Rules
	for _, tc := range []struct {
		format Format
		h      func(*bytes.Buffer) Handler
	}{
		{Text, func(w *bytes.Buffer) Handler { return NewText(w) }},
		{JSON, func(w *bytes.Buffer) Handler { return NewJSON(w, meta) }},
		{SARIF, func(w *bytes.Buffer) Handler { return NewSARIF(w, meta) }},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			var want, got bytes.Buffer
			h := tc.h(&want)
			for _, f := range doc.Findings {
				if err := h.Finding(f); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := Write(&got, tc.format, sampleFindings()); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("Write(%s) differs from the handler:\n%s\nwant:\n%s", tc.format, got.String(), want.String())
			}
		})
	}
	var js bytes.Buffer
	if err := Write(&js, JSON, doc); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind": "findings"`, `go build \u0026\u0026 go test`, `\u003cno\u003e`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("findings JSON has no %s:\n%s", want, js.String())
		}
	}
	if err := Write(&js, SARIF, samplePrune()); err == nil || !strings.Contains(err.Error(), "no SARIF form") {
		t.Errorf("Write(SARIF, prune) = %v, want an error saying it has no SARIF form", err)
	}
	// A document written before "kind" still reads.
	var old bytes.Buffer
	if err := ReadJSON(strings.NewReader(`{"protocol_version": 1, "tool": {"name": "cachecheck"}, "rules": [], "findings": []}`), func(Meta) Handler { return NewText(&old) }); err != nil || old.String() != "no findings\n" {
		t.Errorf("ReadJSON of a document without kind: %v, %q", err, old.String())
	}
	if err := ReadJSON(strings.NewReader(`{"protocol_version": 1, "kind": "prune"}`), func(Meta) Handler { return NewText(&js) }); err == nil {
		t.Error(`ReadJSON read a "prune" document as findings`)
	}
}
