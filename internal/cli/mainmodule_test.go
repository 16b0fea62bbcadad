package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/cachecheck/cachecheck/reports"
)

// TestWarmMainModule runs the nightly job of warm --build-cache=all on a
// module with a library, in an in-memory registry: the first night
// publishes the deps image and the commit's image; the same commit again
// is a hit; a dirty tree, and a build without -trimpath, are refused;
// the next commit finds the deps image and adds one layer; ref
// --build-cache=all names the newest commit's image, ref --build-cache
// the deps image; prune --keep 1 would remove the older commit's image
// and keep the deps image.
func TestWarmMainModule(t *testing.T) {
	testenv.SkipIfShort(t, "compiles the standard library into a fresh build cache")
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	for name, content := range map[string]string{
		"lib/lib.go":       "package lib\n\nimport \"example.com/a\"\n\nfunc L() string { return a.A() }\n",
		"cmd/tool/main.go": "package main\n\nimport \"example.com/app/lib\"\n\nfunc main() { println(lib.L()) }\n",
		"Dockerfile":       "FROM golang:1.26\nWORKDIR /src\nCOPY . .\nRUN CGO_ENABLED=0 go build -trimpath -o /out/tool ./cmd/tool\n",
	} {
		p := filepath.Join(f.App, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(msg, date string) string {
		t.Helper()
		t.Setenv("GIT_COMMITTER_DATE", date)
		testenv.Git(t, f.App, "add", "-A")
		testenv.Git(t, f.App, "commit", "-q", "-m", msg)
		return testenv.Git(t, f.App, "rev-parse", "HEAD")
	}
	testenv.Git(t, f.App, "init", "-q", "-b", "main")
	first := commit("first", "2026-11-01T00:00:00Z")
	to := memRegistry(t) + "/team/app-deps"
	flags := []string{"--to", to, "--build-flags", "CGO_ENABLED=0 -trimpath"}
	warm := func() *reports.Warm {
		t.Helper()
		out, err := runCLI(t, append(append([]string{"warm", "--build-cache=all", "--format", "json"}, flags...), f.App)...)
		if err != nil {
			t.Fatal(err)
		}
		var w reports.Warm
		if err := json.Unmarshal([]byte(out), &w); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return &w
	}

	w1 := warm()
	if w1.Hit || w1.DepsHit || !strings.HasSuffix(w1.Tag, "-r"+first[:12]) || w1.Tag != w1.DepsTag+"-r"+first[:12] ||
		len(w1.MainModule) != 1 || w1.MainModule[0].Packages != 1 || w1.MainModule[0].Revision != first || w1.MainModule[0].Bytes.Raw == 0 {
		t.Fatalf("first night: %+v, main module %+v", w1, w1.MainModule)
	}
	if again := warm(); !again.Hit || again.Ref != w1.Ref {
		t.Errorf("the same commit again: hit %v, ref %s; want a hit on %s", again.Hit, again.Ref, w1.Ref)
	}

	if _, err := runCLI(t, "warm", "--build-cache=all", "--to", to, "--build-flags", "CGO_ENABLED=0", f.App); err == nil || !strings.Contains(err.Error(), "-trimpath") {
		t.Errorf("warm --build-cache=all without -trimpath: %v, want a refusal naming -trimpath", err)
	}

	if err := os.WriteFile(filepath.Join(f.App, "lib/extra.go"), []byte("package lib\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, append(append([]string{"warm", "--build-cache=all"}, flags...), f.App)...)
	if err == nil || !strings.Contains(err.Error(), "lib/extra.go") || !strings.Contains(err.Error(), "commit") {
		t.Errorf("warm --build-cache=all of a dirty tree: %v, want a refusal naming lib/extra.go", err)
	}
	second := commit("second", "2026-11-02T00:00:00Z")
	w2 := warm()
	if w2.Hit || !w2.DepsHit || w2.DepsTag != w1.DepsTag || w2.Layers.New != 1 || len(w2.MainModule) != 1 || w2.MainModule[0].Packages != 1 || w2.MainModule[0].Revision != second {
		t.Fatalf("second night: %+v, main module %+v; want the deps image found, one new layer, 1 package of %s", w2, w2.MainModule, second)
	}

	ref := func(bc string) reports.Ref {
		t.Helper()
		out, err := runCLI(t, "ref", bc, "--format", "json", "--to", to, "--build-flags", "CGO_ENABLED=0 -trimpath", f.App)
		if err != nil {
			t.Fatal(err)
		}
		var r reports.Ref
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return r
	}
	if r := ref("--build-cache=all"); r.Ref != w2.Ref || r.BuildCache == nil || r.BuildCache.MainModule == nil || r.BuildCache.MainModule.Revision != second {
		t.Errorf("ref --build-cache=all: %s %+v, want %s of %s", r.Ref, r.BuildCache, w2.Ref, second)
	}
	if r := ref("--build-cache"); r.Tag != w1.DepsTag || r.BuildCache == nil || r.BuildCache.MainModule != nil {
		t.Errorf("ref --build-cache: %s %+v, want the deps image %s", r.Tag, r.BuildCache, w1.DepsTag)
	}

	// analyze --deps-image predicts from the image's commit: the main
	// package alone, then lib too after an edit.
	analyze := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := Run(context.Background(), []string{"analyze", "--deps-image", w2.Ref, f.App}, nil, &stdout, &stderr); err != nil {
			t.Fatalf("analyze --deps-image: %v\n%s", err, stderr.String())
		}
		return stderr.String()
	}
	if got := analyze(); !strings.Contains(got, "compiles 1 package of the module (example.com/app/cmd/tool)") || !strings.Contains(got, second[:12]) {
		t.Errorf("analyze --deps-image on the commit's tree says %q; want the main package alone, from %s", got, second[:12])
	}
	if err := os.WriteFile(filepath.Join(f.App, "lib/lib.go"), []byte("package lib\n\nimport \"example.com/a\"\n\nfunc L() string { return a.A() + \"!\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := analyze(); !strings.Contains(got, "compiles 2 packages of the module (example.com/app/cmd/tool, example.com/app/lib)") {
		t.Errorf("analyze --deps-image after an edit of lib says %q; want cmd/tool and lib", got)
	}

	out, err := runCLI(t, "prune", "--to", to, "--keep", "1", "--older-than", "0s", "--dry-run", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var p reports.Prune
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	actions := map[string]string{}
	for _, img := range p.Images {
		actions[img.Tag] = img.Action
	}
	want := map[string]string{w1.DepsTag: "kept", w2.Tag: "kept", w1.Tag: "would remove"}
	for tag, a := range want {
		if actions[tag] != a {
			t.Errorf("prune --keep 1: %s %q, want %q (all: %v)", tag, actions[tag], a, actions)
		}
	}
}
