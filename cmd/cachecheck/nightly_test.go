package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The nightly job against the real distribution registries: warm --all
// over a monorepo, concurrent warms of one key, prune verified with skopeo.

// monorepo writes a repository with a go.work using svc/api and svc/web, a
// module of its own (tools) and a module that cannot be downloaded
// (broken), all served by one proxy, and returns its root and environment.
func monorepo(t *testing.T) (string, []string) {
	t.Helper()
	p := modloadtest.NewProxy(t)
	p.Add(t, "example.com/a", "v1.0.0", map[string]string{"a.go": "package a\n\nfunc A() string { return \"a\" }\n"})
	p.Add(t, "example.com/b", "v1.0.0", map[string]string{
		"go.mod": "module example.com/b\n\ngo 1.21\n\nrequire example.com/c v1.0.0\n",
		"b.go":   "package b\n\nimport \"example.com/c\"\n\nfunc B() string { return \"b\" + c.C() }\n",
	})
	p.Add(t, "example.com/c", "v1.0.0", map[string]string{"c.go": "package c\n\nfunc C() string { return \"c\" }\n"})
	env := append(p.Env(""), "GOWORK=off")
	root := t.TempDir()
	modloadtest.WriteModule(t, filepath.Join(root, "svc/api"), env, map[string]string{
		"go.mod": "module example.com/api\n\ngo 1.21\n\nrequire example.com/a v1.0.0\n",
		"api.go": "package api\n\nimport \"example.com/a\"\n\nvar A = a.A()\n",
	})
	modloadtest.WriteModule(t, filepath.Join(root, "svc/web"), env, map[string]string{
		"go.mod": "module example.com/web\n\ngo 1.21\n\nrequire example.com/b v1.0.0\n",
		"web.go": "package web\n\nimport \"example.com/b\"\n\nvar B = b.B()\n",
	})
	modloadtest.WriteModule(t, filepath.Join(root, "tools"), env, map[string]string{
		"go.mod":   "module example.com/tools\n\ngo 1.21\n\nrequire example.com/c v1.0.0\n",
		"tools.go": "package tools\n\nimport \"example.com/c\"\n\nvar C = c.C()\n",
	})
	files := map[string]string{
		"go.work":           "go 1.21\n\nuse (\n\t./svc/api\n\t./svc/web\n)\n",
		"broken/go.mod":     "module example.com/broken\n\ngo 1.21\n\nrequire example.com/nosuch v1.0.0\n",
		"broken/go.sum":     "example.com/nosuch v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nexample.com/nosuch v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		"testdata/x/go.mod": "module example.com/x\n",
	}
	for name, content := range files {
		f := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var clean []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOWORK=") && !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") {
			clean = append(clean, kv)
		}
	}
	return root, clean
}

type allResult struct {
	Units []struct {
		Dir     string
		Result  string
		Modules []string `json:"main_modules"`
		Error   string
		Warm    *warmResult
	}
	Built, Hit, Failed int
	Jobs               int
}

func warmAll(t *testing.T, root string, env []string, args ...string) (allResult, int) {
	t.Helper()
	stdout, stderr, code := run(t, root, env, append([]string{"warm", "--all", "--format", "json"}, args...)...)
	var r allResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("warm --all output: %v\n%s\n%s", err, stdout, stderr)
	}
	return r, code
}

func listTags(t *testing.T, repo string) []string {
	t.Helper()
	var out struct{ Tags []string }
	if err := json.Unmarshal([]byte(skopeo(t, "list-tags", "--tls-verify=false", "docker://"+repo)), &out); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out.Tags)
	return out.Tags
}

func TestWarmAllRegistry(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry")
	root, env := monorepo(t)
	repo := fmt.Sprintf("%s/nightly/mono-%d", reg, time.Now().UnixNano())

	r, code := warmAll(t, root, env, "--to", repo, "--jobs", "2")
	if code != 1 {
		t.Errorf("warm --all with a broken module: exit %d, want 1", code)
	}
	got := map[string]string{}
	for _, u := range r.Units {
		got[u.Dir] = u.Result
		if u.Dir != "broken" && u.Error != "" {
			t.Errorf("%s: %s", u.Dir, u.Error)
		}
	}
	if want := map[string]string{".": "built", "tools": "built", "broken": "failed"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("units %v, want %v", got, want)
	}
	if r.Built != 2 || r.Failed != 1 || r.Jobs != 2 {
		t.Errorf("summary built %d failed %d jobs %d, want 2, 1, 2", r.Built, r.Failed, r.Jobs)
	}
	// skopeo sees two deps images and their stamps.
	tags := listTags(t, repo)
	var images, stamps int
	for _, tag := range tags {
		if strings.HasSuffix(tag, publish.StampSuffix) {
			stamps++
		} else if _, err := publish.ParseTag(tag); err == nil {
			images++
		}
	}
	if images != 2 || stamps != 2 {
		t.Errorf("tags %v: want 2 images and 2 stamps", tags)
	}
	// The workspace's image records its two modules.
	for _, u := range r.Units {
		if u.Dir != "." {
			continue
		}
		var inspect struct{ Labels map[string]string }
		out := skopeo(t, "inspect", "--tls-verify=false", "docker://"+repo+":"+u.Warm.Tag)
		if err := json.Unmarshal([]byte(out), &inspect); err != nil {
			t.Fatal(err)
		}
		if got := inspect.Labels["org.cachecheck.main-modules"]; got != "example.com/api example.com/web" {
			t.Errorf("main-modules label %q", got)
		}
	}
	// Again: hits.
	r, _ = warmAll(t, root, env, "--to", repo)
	if r.Hit != 2 || r.Failed != 1 {
		t.Errorf("second warm --all: hit %d failed %d, want 2, 1", r.Hit, r.Failed)
	}
}

// TestWarmSameKeyConcurrently runs three warms of one module to one
// repository at once: all succeed and publish one digest.
func TestWarmSameKeyConcurrently(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry")
	f := modloadtest.NewFixture(t, "v1.0.0")
	env := fixtureEnv(f)
	repo := fmt.Sprintf("%s/nightly/race-%d", reg, time.Now().UnixNano())
	layout := "oci:" + filepath.Join(t.TempDir(), "oci")
	for _, target := range []string{repo, layout} {
		var wg sync.WaitGroup
		results := make([]warmResult, 3)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = warm(t, copyApp(t, f.App), env, "--to", target)
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.Digest == "" || r.Digest != results[0].Digest {
				t.Errorf("%s: warm %d digest %q, warm 0 %q", target, i, r.Digest, results[0].Digest)
			}
		}
		if target == repo {
			var inspect struct{ Digest string }
			out := skopeo(t, "inspect", "--tls-verify=false", "docker://"+repo+":"+results[0].Tag)
			if err := json.Unmarshal([]byte(out), &inspect); err != nil || inspect.Digest != results[0].Digest {
				t.Errorf("skopeo inspect: %s (%v), want %s", inspect.Digest, err, results[0].Digest)
			}
		}
	}
}

// backdate rewrites the stamp of tag in repo to say it was published age ago.
func backdate(t *testing.T, repo, tag string, digest string, age time.Duration) {
	t.Helper()
	tgt, err := publish.ParseTarget(repo)
	if err != nil {
		t.Fatal(err)
	}
	d, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := tgt.(publish.Pruner).WriteStamp(context.Background(), tag, publish.Stamp{Digest: d, Published: time.Now().Add(-age)}); err != nil {
		t.Fatal(err)
	}
}

// threeVersions warms the fixture's application with example.com/a at
// v1.0.0, v1.1.0 and v1.2.0 to repo and returns the three warms.
func threeVersions(t *testing.T, repo string) (*modloadtest.Fixture, []warmResult) {
	t.Helper()
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Proxy.Add(t, "example.com/a", "v1.2.0", map[string]string{"a.go": "package a\n\nfunc A() string { return \"v1.2.0\" }\n"})
	env := fixtureEnv(f)
	var ws []warmResult
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		cache := t.TempDir()
		t.Cleanup(func() { modloadtest.RemoveAll(cache) })
		modloadtest.Go(t, f.App, append(env, "GOMODCACHE="+cache), "get", "example.com/a@"+v)
		ws = append(ws, warm(t, f.App, env, "--to", repo))
	}
	return f, ws
}

type pruneResult struct {
	Images []struct {
		Tag, Digest, Module, Action, Reason string
		Stamped                             bool
	}
	Removed, Kept, Stamped int
}

func TestPruneRegistry(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry with deletes enabled")
	repo := fmt.Sprintf("%s/nightly/prune-%d", reg, time.Now().UnixNano())
	f, ws := threeVersions(t, repo)
	env := fixtureEnv(f)
	backdate(t, repo, ws[0].Tag, ws[0].Digest, 40*24*time.Hour)
	backdate(t, repo, ws[1].Tag, ws[1].Digest, 20*24*time.Hour)
	before := listTags(t, repo)
	if len(before) != 6 {
		t.Fatalf("tags before prune %v, want 3 images and 3 stamps", before)
	}

	prune := func(args ...string) (pruneResult, string, int) {
		stdout, stderr, code := run(t, f.App, env, append([]string{"prune", "--to", repo, "--format", "json"}, args...)...)
		var r pruneResult
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("prune output: %v\n%s\n%s", err, stdout, stderr)
		}
		return r, stderr, code
	}
	// A dry run removes nothing.
	r, _, code := prune("--keep", "1", "--older-than", "10d", "--dry-run")
	if code != 0 || r.Removed != 2 || r.Kept != 1 {
		t.Errorf("dry run: exit %d, %d removed, %d kept; want 0, 2, 1", code, r.Removed, r.Kept)
	}
	if after := listTags(t, repo); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("dry run changed the tags: %v", after)
	}
	// Older than 30 days: only the first goes, even with --keep 0 ...
	// but it is protected.
	r, _, _ = prune("--keep", "0", "--older-than", "30d", "--protect", ws[0].Tag)
	if r.Removed != 0 {
		t.Errorf("protected: %d removed, want 0", r.Removed)
	}
	// Keep the newest one, remove what is older than 10 days.
	r, _, code = prune("--keep", "1", "--older-than", "10d")
	if code != 0 || r.Removed != 2 {
		t.Fatalf("prune: exit %d, %+v", code, r)
	}
	for _, im := range r.Images {
		if want := im.Tag != ws[2].Tag; (im.Action == "removed") != want {
			t.Errorf("%s: %s (%s)", im.Tag, im.Action, im.Reason)
		}
		if im.Module != "example.com/app" {
			t.Errorf("%s: module %q, want example.com/app", im.Tag, im.Module)
		}
	}
	// skopeo: the removed tags, their stamps and their manifests are gone.
	if after := listTags(t, repo); strings.Join(after, " ") != ws[2].Tag+" "+ws[2].Tag+publish.StampSuffix {
		t.Errorf("tags after prune %v, want only %s and its stamp", after, ws[2].Tag)
	}
	for _, w := range ws[:2] {
		out, err := exec.Command("skopeo", "inspect", "--raw", "--tls-verify=false", "docker://"+repo+"@"+w.Digest).CombinedOutput()
		if err == nil {
			t.Errorf("skopeo inspect of the removed %s succeeded:\n%s", w.Digest, out)
		}
	}
	skopeo(t, "inspect", "--tls-verify=false", "docker://"+repo+"@"+ws[2].Digest)
	// The remaining image still serves warm and ref.
	if again := warm(t, f.App, env, "--to", repo); !again.Hit {
		t.Errorf("warm after prune: %+v, want a hit", again)
	}
}

// TestPruneAdoptsUnstamped checks that an image without a stamp is kept and
// stamped, so it ages from the first prune that sees it.
func TestPruneAdoptsUnstamped(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry with deletes enabled")
	repo := fmt.Sprintf("%s/nightly/adopt-%d", reg, time.Now().UnixNano())
	f := modloadtest.NewFixture(t, "v1.0.0")
	env := fixtureEnv(f)
	w := warm(t, f.App, env, "--to", repo)
	tgt, err := publish.ParseTarget(repo)
	if err != nil {
		t.Fatal(err)
	}
	p := tgt.(publish.Pruner)
	// Remove the stamp as an older warm would have left it: none.
	skopeo(t, "delete", "--tls-verify=false", "docker://"+repo+":"+w.Tag+publish.StampSuffix)
	if _, err := p.ReadStamp(context.Background(), w.Tag); err == nil {
		t.Fatal("stamp still there")
	}
	stdout, stderr, code := run(t, f.App, env, "prune", "--to", repo, "--keep", "0", "--older-than", "0s")
	if code != 0 || !strings.Contains(stdout, "removed 0 of 1 deps images") || !strings.Contains(stdout, "stamped 1") {
		t.Errorf("prune: exit %d\n%s%s", code, stdout, stderr)
	}
	st, err := p.ReadStamp(context.Background(), w.Tag)
	if err != nil || time.Since(st.Published) > time.Minute || st.Digest.String() != w.Digest {
		t.Errorf("stamp after prune: %+v, %v", st, err)
	}
}

func TestPruneDeletesDisabled(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY_NODELETE", "the distribution registry with deletes disabled")
	repo := fmt.Sprintf("%s/nightly/nodelete-%d", reg, time.Now().UnixNano())
	f := modloadtest.NewFixture(t, "v1.0.0")
	env := fixtureEnv(f)
	w := warm(t, f.App, env, "--to", repo)
	backdate(t, repo, w.Tag, w.Digest, 100*24*time.Hour)
	stdout, stderr, code := run(t, f.App, env, "prune", "--to", repo, "--keep", "0", "--older-than", "1d")
	if code != 1 {
		t.Errorf("prune on a registry without deletes: exit %d, want 1", code)
	}
	for _, want := range []string{"the registry does not allow deletes", "storage.delete.enabled: true", "UNSUPPORTED"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout, "removed 1") {
		t.Errorf("stdout claims a removal:\n%s", stdout)
	}
	if tags := listTags(t, repo); len(tags) != 2 {
		t.Errorf("tags after a refused prune: %v, want the image and its stamp", tags)
	}
}
