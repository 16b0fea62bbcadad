package buildcache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/reports"
)

// TestBuildKitMainModule is the proof of warm --build-cache=all with a
// real builder: the fixture service, a git checkout, warmed onto the test
// Go image; a BuildKit build FROM the image (go build -v, offline,
// without the layer cache) compiles only the service's main package, its
// internal/greet coming from the image's main module layer; after an edit
// of greet.go, greet too. report --build-cache=all predicts each list
// exactly. A commit of the edit, warmed the next "night", finds the deps
// image and adds one layer; ref --build-cache=all then names that image,
// and a build FROM it compiles only the main package again.
func TestBuildKitMainModule(t *testing.T) {
	e := newBuildKitEnv(t)
	dir := filepath.Join(t.TempDir(), "service")
	if err := os.CopyFS(dir, os.DirFS(fixtureService)); err != nil {
		t.Fatal(err)
	}
	first := gitCommit(t, dir, "base", "init", "-q", "-b", "main")
	// A repository of the run's own: Newest must see only its commits.
	repo := e.registry + "/cachecheck/buildcache-main-" + strings.ReplaceAll(time.Now().UTC().Format("20060102t150405.000000000"), ".", "-")
	run := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		start := time.Now()
		if err := cli.Run(context.Background(), args, nil, &out, &errb); err != nil {
			t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		t.Logf("cachecheck %s (%.1fs)", strings.Join(args, " "), time.Since(start).Seconds())
		return out.Bytes()
	}
	warm := func() *reports.Warm {
		t.Helper()
		var w reports.Warm
		if err := json.Unmarshal(run("warm", "--build-cache=all", "--format", "json", "--base", e.base, "--to", repo, dir), &w); err != nil {
			t.Fatal(err)
		}
		return &w
	}
	const own = "example.com/service/"
	compiles := func(from string) []string {
		t.Helper()
		got := e.build(t, dir, from, nil).Compiled
		slices.Sort(got)
		return got
	}
	predicts := func() []string {
		t.Helper()
		c := e.report(t, dir, repo, "--build-cache=all")
		if c.Links != 1 {
			t.Errorf("report predicts %d links, want 1", c.Links)
		}
		return c.Packages
	}

	w1 := warm()
	if !strings.HasSuffix(w1.Tag, "-r"+first[:12]) || w1.DepsTag == "" || w1.DepsHit || len(w1.MainModule) != 1 ||
		w1.MainModule[0].Revision != first || w1.MainModule[0].Packages != 1 {
		t.Fatalf("first warm: tag %s, deps %s (hit %v), main module %+v; want the revision %s, 1 package", w1.Tag, w1.DepsTag, w1.DepsHit, w1.MainModule, first)
	}
	onlyMain := []string{own + "cmd/api"}
	withGreet := []string{own + "cmd/api", own + "internal/greet"}
	if got := compiles(w1.Ref); !slices.Equal(got, onlyMain) {
		t.Errorf("go build -v FROM the image of %s compiled %q, want %q", first[:12], got, onlyMain)
	}
	if got := predicts(); !slices.Equal(got, onlyMain) {
		t.Errorf("report --build-cache=all predicts %q, want %q", got, onlyMain)
	}

	greet := filepath.Join(dir, "internal/greet/greet.go")
	data, err := os.ReadFile(greet)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(greet, bytes.Replace(data, []byte(`"hello "`), []byte(`"hello, "`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := compiles(w1.Ref); !slices.Equal(got, withGreet) {
		t.Errorf("after an edit of greet.go, go build -v FROM the image compiled %q, want %q", got, withGreet)
	}
	if got := predicts(); !slices.Equal(got, withGreet) {
		t.Errorf("after an edit of greet.go, report --build-cache=all predicts %q, want %q", got, withGreet)
	}

	second := gitCommit(t, dir, "greet with a comma")
	w2 := warm()
	if !w2.DepsHit || w2.DepsTag != w1.DepsTag || w2.Layers.New != 1 || len(w2.MainModule) != 1 || w2.MainModule[0].Revision != second {
		t.Fatalf("second warm: deps %s (hit %v), %d new layers, main module %+v; want the deps image found, 1 new layer, revision %s", w2.DepsTag, w2.DepsHit, w2.Layers.New, w2.MainModule, second)
	}
	var ref reports.Ref
	if err := json.Unmarshal(run("ref", "--build-cache=all", "--format", "json", "--base", e.base, "--to", repo, dir), &ref); err != nil {
		t.Fatal(err)
	}
	if ref.Ref != w2.Ref || ref.BuildCache == nil || ref.BuildCache.MainModule == nil || ref.BuildCache.MainModule.Revision != second {
		t.Errorf("ref --build-cache=all: %s (%+v), want %s of %s", ref.Ref, ref.BuildCache, w2.Ref, second)
	}
	if got := compiles(ref.Ref); !slices.Equal(got, onlyMain) {
		t.Errorf("go build -v FROM the image of %s compiled %q, want %q", second[:12], got, onlyMain)
	}
}
