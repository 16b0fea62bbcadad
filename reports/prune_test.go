package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var pruneNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// samplePrune is a dry run that would remove two images and stamped one
// it kept.
func samplePrune() *Prune {
	at := func(d time.Duration) *time.Time { t := pruneNow.Add(-d); return &t }
	return &Prune{
		Target: "oci:/var/cache/deps", DryRun: true, Keep: 1, OlderThan: "14d", Now: pruneNow,
		Images: []PrunedImage{
			{Tag: "ck1-092196d0e7550411a614a4f8367deb12", Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111",
				Module: "example.com/app", Published: at(40 * 24 * time.Hour), Action: "would remove", Reason: "older than 14d"},
			{Tag: "ck1-0ac58f425b47172330dc6178be3c5dfc", Digest: "sha256:2222222222222222222222222222222222222222222222222222222222222222",
				Module: "example.com/app", Published: at(15*24*time.Hour + 6*time.Hour), Action: "would remove", Reason: "older than 14d"},
			{Tag: "ck1-a36d5d5d75b71d99feb4a3423114df51", Digest: "sha256:3333333333333333333333333333333333333333333333333333333333333333",
				Module: "example.com/app", Published: at(2 * time.Hour), Action: "kept", Reason: "among the newest 1 of its module"},
			{Tag: "ck1-18ed5acb9b8038b9617fc243801bee03", Digest: "sha256:4444444444444444444444444444444444444444444444444444444444444444",
				Module: "(unknown)", Action: "kept", Reason: "no publication time", Stamped: true},
		},
		Removed: 2, Kept: 2, Stamped: 1,
	}
}

// samplePruneGC removed a blob and a temporary file and found two broken
// tags.
func samplePruneGC() *PruneGC {
	return &PruneGC{
		Target: "oci:/var/cache/deps", OlderThan: "10m", Now: pruneNow,
		Files: []GCFile{
			{Path: "blobs/sha256/5555555555555555555555555555555555555555555555555555555555555555", Digest: "sha256:5555555555555555555555555555555555555555555555555555555555555555",
				Size: 1_523_000, ModTime: pruneNow.Add(-3 * 24 * time.Hour)},
			{Path: ".tmp-index.json-2", Temp: true, Size: 30, ModTime: pruneNow.Add(-time.Hour)},
		},
		Blobs: 1, Temporary: 1, Bytes: 1_523_030,
		Broken: []string{"ck1-092196d0e7550411a614a4f8367deb12", "ck1-0ac58f425b47172330dc6178be3c5dfc"},
	}
}

// TestPruneText pins the text of both prunes, and the warnings about
// broken tags.
func TestPruneText(t *testing.T) {
	empty := &PruneGC{Target: "oci:/var/cache/deps", OlderThan: "10m", Now: pruneNow, Files: []GCFile{}}
	for _, tc := range []struct {
		name string
		doc  Doc
	}{
		{"prune", samplePrune()},
		{"prune-gc", samplePruneGC()},
		{"prune-gc-empty", empty},
		{"prune-removed", &Prune{Target: "127.0.0.1:5000/app-deps", Keep: 3, OlderThan: "30d", Now: pruneNow,
			Images: []PrunedImage{{Tag: "ck1-092196d0e7550411a614a4f8367deb12", Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111",
				Module: "example.com/app example.com/tool", Published: &pruneNow, Action: "removed", Reason: "older than 30d"}},
			Removed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, Text, tc.doc); err != nil {
				t.Fatal(err)
			}
			if gc, ok := tc.doc.(*PruneGC); ok {
				for _, w := range gc.BrokenWarnings() {
					buf.WriteString("stderr: " + w + "\n")
				}
			}
			checkGolden(t, filepath.Join("testdata", tc.name+".text.golden"), buf.Bytes())
		})
	}
}

// checkGolden compares got with the golden file, or rewrites it under
// -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update to accept):\n%s", golden, got)
	}
}
