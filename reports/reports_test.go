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
