package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/faultproxy"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The fault harness: the CLI, in-process, against the real distribution
// registry behind a fault-injecting proxy. Its figures go in the README.
const (
	harnessTimeout = 250 * time.Millisecond // --timeout of every run
	harnessRunCap  = 60 * time.Second       // a run that takes longer hangs
	harnessFaults  = 200                    // faults to inject, at least
)

type harness struct {
	t      *testing.T
	p      *faultproxy.Proxy
	runs   int
	hangs  int
	failed int
	// failures whose message does not name the registry and the
	// operation, or that do not exit 1
	unclear []string
}

// run runs cachecheck args with --timeout and reports whether it succeeded.
func (h *harness) run(args ...string) error {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), harnessRunCap)
	defer cancel()
	var stdout, stderr bytes.Buffer
	full := append(append(args[:1:1], "--timeout", harnessTimeout.String()), args[1:]...)
	start := time.Now()
	err := Run(ctx, full, nil, &stdout, &stderr)
	h.runs++
	if took := time.Since(start); ctx.Err() != nil || took >= harnessRunCap {
		h.hangs++
		h.t.Errorf("cachecheck %s took %s: a hang", strings.Join(args, " "), took)
	}
	if err == nil {
		return nil
	}
	h.failed++
	msg := err.Error()
	h.t.Logf("cachecheck %s failed: %s", strings.Join(args, " "), msg)
	var re *publish.RegistryError
	if !errors.As(err, &re) || re.Registry != h.p.Host || !regexp.MustCompile(`^(looking up|reading|writing|pushing|listing|deleting) `).MatchString(re.Op) || ExitCode(err) != ExitFailure {
		h.unclear = append(h.unclear, fmt.Sprintf("cachecheck %s: exit %d: %s", strings.Join(args, " "), ExitCode(err), msg))
	}
	if strings.Contains(msg, "_state=") && !strings.Contains(msg, "_state=REDACTED") {
		h.t.Errorf("cachecheck %s prints an upload state: %s", strings.Join(args, " "), msg)
	}
	return err
}

// TestFaultHarness runs warm (miss, hit, --force, --base), ref and prune
// through a proxy injecting at least 200 faults, then checks the registry
// directly: every tag's manifest and every blob it names are there with
// the right digest and size. It prints the figures and fails when one is
// off: broken tags 0, hangs 0, single faults absorbed 100%, every failed
// run with a message naming the registry and operation, exit 1.
func TestFaultHarness(t *testing.T) {
	reg := testenv.Getenv(t, "CACHECHECK_REGISTRY", "the plain distribution registry")
	p, err := faultproxy.New("http://" + reg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Hold = 10 * time.Second
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	t.Setenv("CACHECHECK_TIMEOUT", "")
	repo := fmt.Sprintf("faults/run-%d", time.Now().UnixNano())
	to := p.Host + "/" + repo
	// A base image, written directly.
	baseRepo := fmt.Sprintf("faults/base-%d", time.Now().UnixNano())
	baseImg, err := random.Image(2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	baseRef, err := name.NewTag(reg+"/"+baseRepo+":golang", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(baseRef, baseImg); err != nil {
		t.Fatal(err)
	}
	base := p.Host + "/" + baseRepo + ":golang"
	h := &harness{t: t, p: p}
	start := time.Now()

	// Without faults: a miss, on scratch and on the base.
	for _, args := range [][]string{{"warm", "--to", to, f.App}, {"warm", "--to", to, "--base", base, f.App}} {
		if err := h.run(args...); err != nil {
			t.Fatalf("cachecheck %s without faults: %v", strings.Join(args, " "), err)
		}
	}

	// One fault at a time, into each kind of request: every run must
	// succeed. --force --layers N publishes new blobs each time.
	heavy := []struct{ method, path string }{
		{"POST", `/blobs/uploads/$`},
		{"PATCH", `/blobs/uploads/`},
		{"PUT", `/blobs/uploads/`},
		{"HEAD", `/blobs/sha256:`},
		{"PUT", `/manifests/ck1-[0-9a-f-]+$`},
		{"PUT", `/manifests/.*\.stamp$`},
	}
	light := []struct {
		method, path string
		args         []string
	}{
		{"HEAD", `/manifests/ck1-`, []string{"warm", "--to", to, f.App}},
		{"GET", `/manifests/.*\.stamp$`, []string{"warm", "--to", to, f.App}},
		{"HEAD", `/manifests/ck1-`, []string{"ref", "--to", to, f.App}},
		{"GET", `/manifests/golang$`, []string{"warm", "--to", to, "--base", base, f.App}},
		{"GET", `/blobs/sha256:`, []string{"ref", "--to", to, "--base", base, f.App}},
		{"GET", `^/v2/$`, []string{"ref", "--to", to, f.App}},
	}
	var single, absorbed int
	layers := 1
	try := func(kind faultproxy.Kind, method, path string, args []string) {
		p.Clear()
		p.AddRule(faultproxy.Rule{Method: method, Path: regexp.MustCompile(path), Kind: kind, Times: 1})
		before := p.Injected()
		err := h.run(args...)
		if p.Injected() == before {
			t.Logf("no %s request matched %s: not counted", method, path)
			return
		}
		single++
		if err == nil {
			absorbed++
		} else {
			t.Errorf("one %s fault in %s %s: cachecheck %s: %v", kind, method, path, strings.Join(args, " "), err)
		}
	}
	for i, kind := range faultproxy.Kinds {
		for j := range 2 {
			c := heavy[(2*i+j)%len(heavy)]
			layers++
			try(kind, c.method, c.path, []string{"warm", "--force", "--layers", fmt.Sprint(layers), "--to", to, f.App})
		}
		for _, c := range light {
			try(kind, c.method, c.path, c.args)
		}
	}
	singleInjected := p.Injected()

	// Faults at a rate, into every kind of request, until enough were
	// injected: runs may fail, clearly.
	p.Clear()
	p.RetryAfter = 0
	p.SetRate(0.25, 12, faultproxy.Kinds...)
	cmds := [][]string{
		{"warm", "--force", "--to", to, f.App},
		{"warm", "--to", to, f.App},
		{"ref", "--to", to, f.App},
		{"warm", "--to", to, "--base", base, f.App},
		{"ref", "--nearest", "--to", to, "--base", base, f.App},
		{"prune", "--to", to, "--dry-run", "--format", "json"},
	}
	for i := 0; p.Injected() < harnessFaults && i < 300; i++ {
		args := cmds[i%len(cmds)]
		if args[1] == "--force" {
			layers++
			args = append([]string{"warm", "--force", "--layers", fmt.Sprint(layers%90 + 1)}, args[2:]...)
		}
		h.run(args...)
	}
	// The registry, directly: every tag whole; again after a real prune
	// (keep 1 of the 2 images of the module) under faults.
	p.Clear()
	tags, broken := checkRepository(t, reg+"/"+repo)
	p.SetRate(0.25, 13, faultproxy.Kinds...)
	h.run("prune", "--to", to, "--keep", "1", "--older-than", "0d")
	p.Clear()
	tags2, broken2 := checkRepository(t, reg+"/"+repo)
	tags, broken = tags+tags2, broken+broken2
	// A registry that stays broken: every run must fail, within its cap,
	// naming the registry and the operation, exit 1.
	failedBefore := h.failed
	down := 0
	for _, kind := range []faultproxy.Kind{faultproxy.Status5xx, faultproxy.BlackHole, faultproxy.CutStatus} {
		p.Clear()
		p.SetRate(1, 14, kind)
		for _, args := range [][]string{{"warm", "--force", "--to", to, f.App}, {"ref", "--to", to, f.App}, {"prune", "--to", to, "--dry-run"}} {
			down++
			if h.run(args...) == nil {
				t.Errorf("cachecheck %s succeeded against a registry answering every request with %s", strings.Join(args, " "), kind)
			}
		}
	}
	p.Clear()
	t.Logf("fault harness: against a registry that stays broken, %d of %d runs failed", h.failed-failedBefore, down)
	t.Logf("fault harness: %d runs in %s, %d faults injected (%s)", h.runs, time.Since(start).Round(time.Second), p.Injected(), p.Counts())
	t.Logf("fault harness: broken tags: %d of %d; hangs: %d (every run ended within %s, --timeout %s)", broken, tags, h.hangs, harnessRunCap, harnessTimeout)
	t.Logf("fault harness: transient single faults absorbed by retries: %d of %d (%.0f%%), %d faults", absorbed, single, 100*float64(absorbed)/float64(max(single, 1)), singleInjected)
	t.Logf("fault harness: runs that failed: %d of %d; with a message naming the registry and the operation, and exit 1: %d", h.failed, h.runs, h.failed-len(h.unclear))
	for _, u := range h.unclear {
		t.Errorf("unclear failure: %s", u)
	}
	if broken > 0 {
		t.Errorf("%d broken tags", broken)
	}
	if absorbed != single || single < 40 {
		t.Errorf("single faults absorbed: %d of %d, want all of at least 40", absorbed, single)
	}
	if p.Injected() < harnessFaults {
		t.Errorf("%d faults injected, want at least %d", p.Injected(), harnessFaults)
	}
	if tags == 0 {
		t.Error("the repository holds no tag")
	}
}

// checkRepository reads every tag of repo (HOST/PATH) and every blob its
// manifest names, checking digests and sizes; it returns the tags and how
// many were broken.
func checkRepository(t *testing.T, repo string) (tags, broken int) {
	t.Helper()
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	list, err := remote.List(r)
	if err != nil {
		t.Fatalf("listing %s directly: %v", repo, err)
	}
	for _, tag := range list {
		tags++
		if err := checkTag(r.Tag(tag)); err != nil {
			broken++
			t.Errorf("tag %s is broken: %v", tag, err)
		}
	}
	return tags, broken
}

func checkTag(ref name.Tag) error {
	desc, err := remote.Get(ref)
	if err != nil {
		return err
	}
	if h, n, _ := v1.SHA256(bytes.NewReader(desc.Manifest)); h != desc.Digest || n != desc.Size {
		return fmt.Errorf("manifest %s reads as %s, %d bytes (want %d)", desc.Digest, h, n, desc.Size)
	}
	var imgs []v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		for _, d := range im.Manifests {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return err
			}
			imgs = append(imgs, img)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return err
		}
		imgs = append(imgs, img)
	}
	for _, img := range imgs {
		m, err := img.Manifest()
		if err != nil {
			return err
		}
		for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			l, err := remote.Layer(ref.Context().Digest(d.Digest.String()))
			if err != nil {
				return err
			}
			rc, err := l.Compressed()
			if err != nil {
				return fmt.Errorf("blob %s: %w", d.Digest, err)
			}
			h, n, err := v1.SHA256(rc)
			rc.Close()
			if err != nil || h != d.Digest || n != d.Size {
				return fmt.Errorf("blob %s reads as %s, %d bytes (want %d): %v", d.Digest, h, n, d.Size, err)
			}
		}
	}
	return nil
}
