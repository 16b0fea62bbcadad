package reports

import (
	"bytes"
	"strings"
	"testing"
)

// samples holds one filled-in document of every kind Read knows; a kind
// without a sample fails TestReplay.
var samples = map[string]func() Doc{
	"report":     func() Doc { return sampleReport() },
	"prune":      func() Doc { return samplePrune() },
	"prune-gc":   func() Doc { return samplePruneGC() },
	"prediction": func() Doc { return sampleReport().Dockerfile.Prediction },
	"findings":   func() Doc { return sampleFindings() },
	"warm":       func() Doc { return sampleWarm() },
	"warm-all":   func() Doc { return sampleWarmAll() },
	"warm-check": func() Doc { return sampleWarmCheck() },
	"ref":        func() Doc { return sampleRef() },
	"key":        func() Doc { return sampleKey() },
	"key-diff":   func() Doc { return sampleKeyDiff() },
	"bench":      func() Doc { return replayBench() },
}

// TestReplay writes every kind of document as JSON, reads it back, and
// wants the same JSON, text and markdown from the copy as from the
// original: what a command printed can always be rendered again.
func TestReplay(t *testing.T) {
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			sample, ok := samples[kind]
			if !ok {
				t.Fatalf("no sample document of kind %q in samples", kind)
			}
			orig := sample()
			if got := orig.Kind(); got != kind {
				t.Fatalf("sample of kind %q says Kind() = %q", kind, got)
			}
			var js bytes.Buffer
			if err := Write(&js, JSON, orig); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(js.String(), `"kind": "`+kind+`"`) {
				t.Errorf("JSON has no \"kind\": %q:\n%s", kind, js.String())
			}
			back, err := Read(bytes.NewReader(js.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			formats := []Format{JSON, Text}
			if _, ok := orig.(MarkdownDoc); ok {
				formats = append(formats, Markdown)
			}
			if _, ok := orig.(SARIFDoc); ok {
				formats = append(formats, SARIF)
			}
			for _, f := range formats {
				var want, got bytes.Buffer
				if err := Write(&want, f, sample()); err != nil {
					t.Fatal(err)
				}
				if err := Write(&got, f, back); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("%s of the replayed document differs:\n--- replayed\n%s\n--- original\n%s", f, got.String(), want.String())
				}
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"protocol_version": 2, "kind": "report"}`, "protocol_version 2, want 1"},
		{`{"protocol_version": 1}`, `no "kind"`},
		{`{"protocol_version": 1, "kind": "nonsense"}`, `unknown kind "nonsense"`},
		{`{"protocol_version": 1, "kind": "report", "base": 3}`, "reading report document"},
		{`[`, "reading document"},
	} {
		_, err := Read(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%s) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}
