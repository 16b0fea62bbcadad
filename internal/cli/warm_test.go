package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, nil, &stdout, &stderr)
	if err != nil && stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return stdout.String(), err
}

type warmJSON struct {
	Hit    bool
	Tag    string
	Ref    string
	Digest string
	Layers struct{ New, Reused int }
}

func warmJSONOf(t *testing.T, args ...string) warmJSON {
	t.Helper()
	out, err := runCLI(t, append([]string{"warm", "--format", "json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var w warmJSON
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return w
}

func platformImage(t *testing.T, arch string) mutate.IndexAddendum {
	img, err := random.Image(500, 2)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}}
}

// TestWarmMultiPlatformBase warms onto a two-platform index in an OCI
// layout: the result is an index with both platforms, the same deps layers
// on each, tagged with the base digest, and ref --base finds it.
func TestWarmMultiPlatformBase(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	base := mutate.AppendManifests(empty.Index, platformImage(t, "amd64"), platformImage(t, "arm64"))
	baseDir := filepath.Join(t.TempDir(), "base")
	p, err := layout.Write(baseDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(base, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "golang"})); err != nil {
		t.Fatal(err)
	}
	baseDigest, _ := base.Digest()
	out := filepath.Join(t.TempDir(), "oci")

	w := warmJSONOf(t, "--to", "oci:"+out, "--base", "oci:"+baseDir+":golang", f.App)
	if !strings.HasSuffix(w.Tag, "-"+baseDigest.Hex[:12]) {
		t.Errorf("tag %s does not end with the base digest's 12 hex %s", w.Tag, baseDigest.Hex[:12])
	}
	lp, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := top.ImageIndex(v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(w.Digest, "sha256:")})
	if err != nil {
		t.Fatalf("the published manifest is not an index in the layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index has %d manifests, want 2 platforms", len(im.Manifests))
	}
	var deps [][]v1.Hash
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) <= 2 {
			t.Fatalf("platform %s has %d layers, want the base's 2 and deps layers", d.Platform, len(ls))
		}
		var ds []v1.Hash
		for _, l := range ls[2:] {
			h, _ := l.Digest()
			ds = append(ds, h)
		}
		deps = append(deps, ds)
	}
	if len(deps[0]) != len(deps[1]) || deps[0][0] != deps[1][0] {
		t.Errorf("platforms have different deps layers: %v and %v", deps[0], deps[1])
	}
	if want := len(deps[0]) + 4; w.Layers.New != want {
		t.Errorf("%d new layers reported, want the %d deps layers once and the 4 base layers", w.Layers.New, want)
	}

	ref, err := runCLI(t, "ref", "--to", "oci:"+out, "--base", "oci:"+baseDir+":golang", f.App)
	if err != nil || strings.TrimSpace(ref) != w.Ref {
		t.Errorf("ref --base = %q, %v; want %q", ref, err, w.Ref)
	}
	// Without --base, the key's scratch image does not exist.
	if _, err := runCLI(t, "ref", "--to", "oci:"+out, f.App); err == nil || !strings.Contains(err.Error(), "no deps image") {
		t.Errorf("ref without --base = %v, want no deps image", err)
	}
}

// TestWarmRegistryBase warms onto a single-platform image in a registry and
// publishes to the same registry.
func TestWarmRegistryBase(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	f.Setenv(t)
	host := memRegistry(t)
	baseImg, err := random.Image(500, 3)
	if err != nil {
		t.Fatal(err)
	}
	baseRef, _ := name.ParseReference(host + "/mirror/golang:1.26")
	if err := remote.Write(baseRef, baseImg); err != nil {
		t.Fatal(err)
	}
	w := warmJSONOf(t, "--to", host+"/team/app-deps", "--base", baseRef.String(), f.App)
	if !strings.HasPrefix(w.Ref, host+"/team/app-deps:"+w.Tag+"@sha256:") {
		t.Errorf("ref %q, want %s/team/app-deps:%s@sha256:…", w.Ref, host, w.Tag)
	}
	got, err := remote.Image(mustRef(t, w.Ref))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := got.Layers()
	bls, _ := baseImg.Layers()
	for i := range bls {
		g, _ := ls[i].Digest()
		b, _ := bls[i].Digest()
		if g != b {
			t.Errorf("layer %d is %s, want the base's %s", i, g, b)
		}
	}
	if again := warmJSONOf(t, "--to", host+"/team/app-deps", "--base", baseRef.String(), f.App); !again.Hit {
		t.Errorf("second warm is not a hit: %+v", again)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	ref, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// memRegistry serves go-containerregistry's in-memory registry for the test
// and returns its host:port.
func memRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}
