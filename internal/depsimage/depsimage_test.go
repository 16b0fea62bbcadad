package depsimage_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/testenv"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/module"
)

// download writes the fixture with example.com/a at aVersion and downloads
// it into a fresh module cache.
func download(t *testing.T, aVersion string) (*modloadtest.Fixture, *modload.Result) {
	t.Helper()
	f := modloadtest.NewFixture(t, aVersion)
	cache := filepath.Join(t.TempDir(), "modcache")
	t.Cleanup(func() { modloadtest.RemoveAll(cache) })
	res, err := modload.Download(context.Background(), f.App, modload.WithGoModCache(cache), modload.WithEnv(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	ver, err := modload.Verify(context.Background(), f.App, res, modload.TreesWhenRead())
	if err != nil {
		t.Fatal(err)
	}
	verifiedMu.Lock()
	verified[res] = ver
	verifiedMu.Unlock()
	return f, res
}

// verified holds what Verify returned for each download, for layers.
var (
	verifiedMu sync.Mutex
	verified   = map[*modload.Result]*modload.Verified{}
)

func layers(t *testing.T, res *modload.Result, opts ...depsimage.Option) []depsimage.Layer {
	t.Helper()
	verifiedMu.Lock()
	ver := verified[res]
	verifiedMu.Unlock()
	ls, err := depsimage.Layers(res, ver, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// digests maps layer names to digests.
func digests(t *testing.T, ls []depsimage.Layer) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		m[l.Name] = d.String()
	}
	return m
}

func holder(ls []depsimage.Layer, path string) string {
	for _, l := range ls {
		for _, m := range l.Modules {
			if m.Path == path {
				return l.Name
			}
		}
	}
	return ""
}

var optionSets = []struct {
	name string
	opts []depsimage.Option
}{
	{"gzip full", nil},
	{"gzip zips", []depsimage.Option{depsimage.WithContents(depsimage.ContentsZips)}},
	{"zstd full", []depsimage.Option{depsimage.WithCompression(depsimage.Zstd)}},
	{"zstd zips 3 buckets", []depsimage.Option{depsimage.WithCompression(depsimage.Zstd), depsimage.WithContents(depsimage.ContentsZips), depsimage.WithBuckets(3)}},
}

// TestReproducible packs two downloads made in different directories at
// different times and wants the same digests, whatever the concurrency.
func TestReproducible(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	_, res1 := download(t, "v1.0.0")
	time.Sleep(1100 * time.Millisecond) // other file times
	_, res2 := download(t, "v1.0.0")
	if res1.GoModCache == res2.GoModCache {
		t.Fatal("same module cache twice")
	}
	for _, tc := range optionSets {
		t.Run(tc.name, func(t *testing.T) {
			d1 := digests(t, layers(t, res1, append(tc.opts, depsimage.WithConcurrency(1))...))
			d2 := digests(t, layers(t, res2, append(tc.opts, depsimage.WithConcurrency(4))...))
			if len(d1) < 3 {
				t.Errorf("%d layers, want at least two public buckets and the private one: %v", len(d1), d1)
			}
			for name, d := range d1 {
				if d2[name] != d {
					t.Errorf("layer %q: digest %s, then %s", name, d, d2[name])
				}
			}
			if len(d1) != len(d2) {
				t.Errorf("layers %v, then %v", d1, d2)
			}
		})
	}
	t.Run("epoch", func(t *testing.T) {
		a := digests(t, layers(t, res1))
		b := digests(t, layers(t, res1, depsimage.WithEpoch(time.Unix(1700000000, 0))))
		t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
		c := digests(t, layers(t, res1))
		for name := range a {
			if a[name] == b[name] || b[name] != c[name] {
				t.Errorf("layer %q: epoch 0 %s, WithEpoch %s, SOURCE_DATE_EPOCH %s: want the last two equal and different from the first", name, a[name], b[name], c[name])
			}
		}
	})
}

// TestLayerValid checks that every layer streams the bytes its digests
// and size describe, and holds what its name says.
func TestLayerValid(t *testing.T) {
	_, res := download(t, "v1.0.0")
	// validate.Layer reads gzip only: check zstd layers by hand.
	for _, l := range layers(t, res, depsimage.WithCompression(depsimage.Zstd)) {
		checkZstd(t, l)
	}
	ls := layers(t, res)
	if got := holder(ls, "corp.example/p"); got != "private modules" {
		t.Errorf("corp.example/p is in layer %q, want the private one", got)
	}
	for _, l := range ls {
		if err := validate.Layer(l); err != nil {
			t.Errorf("layer %q: %v", l.Name, err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		var prev string
		var raw int64
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Name <= prev && prev != "" {
				t.Errorf("layer %q: %q after %q: not sorted", l.Name, h.Name, prev)
			}
			prev = h.Name
			raw += h.Size
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(0, 0)) || len(h.PAXRecords) > 0 && h.PAXRecords["SCHILY.xattr."] != "" {
				t.Errorf("layer %q: %q: owner %d:%d %q:%q time %v", l.Name, h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
			}
			if !strings.HasPrefix(h.Name, "go/") {
				t.Errorf("layer %q: %q outside /go", l.Name, h.Name)
			}
			// The extracted trees are read-only, as the go command leaves them.
			if strings.Contains(h.Name, "@v1.0.0/") && h.Typeflag == tar.TypeReg && h.Mode != 0o444 {
				t.Errorf("layer %q: %q: mode %o, want 0444", l.Name, h.Name, h.Mode)
			}
			if strings.HasSuffix(h.Name, ".lock") {
				t.Errorf("layer %q: lock file %q", l.Name, h.Name)
			}
		}
		rc.Close()
		if raw != l.RawSize {
			t.Errorf("layer %q: %d bytes of files, RawSize %d", l.Name, raw, l.RawSize)
		}
	}
}

// TestBump bumps example.com/a and wants it in the same bucket, and exactly
// one layer digest changed: that bucket's.
func TestBump(t *testing.T) {
	_, res1 := download(t, "v1.0.0")
	_, res2 := download(t, "v1.1.0")
	for _, tc := range optionSets {
		t.Run(tc.name, func(t *testing.T) {
			l1, l2 := layers(t, res1, tc.opts...), layers(t, res2, tc.opts...)
			b1, b2 := holder(l1, "example.com/a"), holder(l2, "example.com/a")
			if b1 == "" || b1 != b2 {
				t.Fatalf("example.com/a in layer %q, after the bump in %q", b1, b2)
			}
			d1, d2 := digests(t, l1), digests(t, l2)
			var changed []string
			for name := range d1 {
				if d1[name] != d2[name] {
					changed = append(changed, name)
				}
			}
			if !slices.Equal(changed, []string{b1}) {
				t.Errorf("changed layers %q, want only %q", changed, b1)
			}
		})
	}
}

// TestOfflineBuild unpacks the image into an empty directory and builds the
// fixture against it with no proxy.
func TestOfflineBuild(t *testing.T) {
	f, res := download(t, "v1.0.0")
	for _, contents := range []string{depsimage.ContentsFull, depsimage.ContentsZips} {
		t.Run(contents, func(t *testing.T) {
			ls := layers(t, res, depsimage.WithContents(contents), depsimage.WithBuckets(4))
			img, err := depsimage.Image(nil, ls, depsimage.Metadata{Contents: contents, GoVersion: res.GoVersion})
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			t.Cleanup(func() { modloadtest.RemoveAll(root) })
			testenv.Untar(t, mutate.Extract(img), root)
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(cf.Config.Env, "GOMODCACHE=/go/pkg/mod") {
				t.Errorf("env %q lacks GOMODCACHE", cf.Config.Env)
			}
			env := append(slices.Clone(f.Env), "GOMODCACHE="+filepath.Join(root, "go/pkg/mod"), "GOPROXY=off", "GOFLAGS=-mod=mod")
			modloadtest.Go(t, f.App, env, "build", "./...")
			out := modloadtest.Go(t, f.App, env, "run", ".")
			if strings.TrimSpace(out) != "v1.0.0 bc p" {
				t.Errorf("fixture printed %q", out)
			}
		})
	}
}

func TestImageMetadata(t *testing.T) {
	_, res := download(t, "v1.0.0")
	ls := layers(t, res)
	key, err := cachekey.Parse("ck1-0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	var mods []module.Version
	for _, m := range res.Modules {
		mods = append(mods, m.ModuleVersion())
	}
	md := depsimage.Metadata{
		Key: key, InputsDigest: depsimage.InputsDigest([]string{"schema 1"}), GoVersion: res.GoVersion,
		Modules: mods, Version: "devel", Contents: depsimage.ContentsFull,
	}
	base, err := random.Image(100, 2)
	if err != nil {
		t.Fatal(err)
	}
	baseDigest, _ := base.Digest()
	check := func(t *testing.T, img v1.Image, wantBase string, baseLayers int) {
		t.Helper()
		if err := validate.Image(img); err != nil {
			t.Fatal(err)
		}
		got, err := depsimage.ReadMetadata(img)
		if err != nil {
			t.Fatal(err)
		}
		if got.Key != key || got.InputsDigest != md.InputsDigest || got.GoVersion != "1.21" || !slices.Equal(got.Modules, mods) ||
			got.BaseDigest != wantBase || got.Layers != len(ls) || got.Contents != "full" || got.Version != "devel" {
			t.Errorf("ReadMetadata = %+v", got)
		}
		m, _ := img.Manifest()
		if m.Annotations[depsimage.LabelKey] != key.String() {
			t.Errorf("annotations %v lack the key", m.Annotations)
		}
		if len(m.Layers) != baseLayers+len(ls) {
			t.Errorf("%d layers, want %d", len(m.Layers), baseLayers+len(ls))
		}
		cf, _ := img.ConfigFile()
		if len(cf.History) < len(ls) || !strings.Contains(cf.History[len(cf.History)-1].CreatedBy, "cachecheck warm") {
			t.Errorf("history %v", cf.History)
		}
		if !cf.Created.Time.Equal(time.Unix(0, 0)) {
			t.Errorf("created %v", cf.Created)
		}
	}
	t.Run("scratch", func(t *testing.T) {
		img, err := depsimage.Image(nil, ls, md)
		if err != nil {
			t.Fatal(err)
		}
		check(t, img, "", 0)
		again, _ := depsimage.Image(nil, layers(t, res), md)
		d1, _ := img.Digest()
		d2, _ := again.Digest()
		if d1 != d2 {
			t.Errorf("image digest %s, then %s", d1, d2)
		}
	})
	t.Run("base", func(t *testing.T) {
		cf, _ := base.ConfigFile()
		cf = cf.DeepCopy()
		cf.Config.Env = []string{"PATH=/usr/bin", "GOPATH=/root/go"}
		b, _ := mutate.ConfigFile(base, cf)
		bd, _ := b.Digest()
		img, err := depsimage.Image(b, ls, md)
		if err != nil {
			t.Fatal(err)
		}
		check(t, img, bd.String(), 2)
		got, _ := img.ConfigFile()
		if want := []string{"GOMODCACHE=/go/pkg/mod", "PATH=/usr/bin", "GOPATH=/go"}; !slices.Equal(got.Config.Env, want) {
			t.Errorf("env %q, want %q", got.Config.Env, want)
		}
	})
	t.Run("index", func(t *testing.T) {
		idx, err := random.Index(100, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		// random.Index gives no platforms: add them.
		im, _ := idx.IndexManifest()
		var adds []mutate.IndexAddendum
		for i, d := range im.Manifests {
			img, _ := idx.Image(d.Digest)
			p := &v1.Platform{OS: []string{"linux", "linux", "unknown"}[i], Architecture: []string{"amd64", "arm64", "unknown"}[i]}
			cf, _ := img.ConfigFile()
			cf = cf.DeepCopy()
			cf.OS, cf.Architecture = p.OS, p.Architecture
			img, _ = mutate.ConfigFile(img, cf)
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		}
		b := mutate.AppendManifests(mutate.IndexMediaType(emptyIndex(), im.MediaType), adds...)
		bd, _ := b.Digest()
		out, err := depsimage.Index(b, ls, md)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Index(out); err != nil {
			t.Fatal(err)
		}
		om, _ := out.IndexManifest()
		// The unknown/unknown child (an attestation) is dropped.
		if len(om.Manifests) != 2 {
			t.Fatalf("%d manifests, want 2", len(om.Manifests))
		}
		for _, d := range om.Manifests {
			img, _ := out.Image(d.Digest)
			check(t, img, bd.String(), 1)
		}
		_ = baseDigest
	})
}

// checkZstd checks that a zstd layer's stream matches its digest, size and
// diff ID.
func checkZstd(t *testing.T, l depsimage.Layer) {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dh, uh := sha256.New(), sha256.New()
	zr, err := zstd.NewReader(io.TeeReader(rc, dh))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if _, err := io.Copy(uh, zr); err != nil {
		t.Fatalf("layer %q: %v", l.Name, err)
	}
	io.Copy(dh, rc)
	digest, _ := l.Digest()
	diffID, _ := l.DiffID()
	if got := hex.EncodeToString(dh.Sum(nil)); got != digest.Hex {
		t.Errorf("layer %q: stream digest %s, Digest %s", l.Name, got, digest.Hex)
	}
	if got := hex.EncodeToString(uh.Sum(nil)); got != diffID.Hex {
		t.Errorf("layer %q: stream diff ID %s, DiffID %s", l.Name, got, diffID.Hex)
	}
	if mt, _ := l.MediaType(); mt != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Errorf("layer %q: media type %s", l.Name, mt)
	}
}

// TestSpoolDir checks that spooled layers have the digests of unspooled
// ones, that Compressed reads the spool file the digest pass wrote (the
// bytes hash to the digest, with the module cache gone), and that the
// files stay in the spool directory.
func TestSpoolDir(t *testing.T) {
	_, res := download(t, "v1.0.0")
	want := digests(t, layers(t, res))
	dir := t.TempDir()
	ls := layers(t, res, depsimage.WithSpoolDir(dir))
	if got := digests(t, ls); !maps.Equal(got, want) {
		t.Fatalf("spooled digests %v, want %v", got, want)
	}
	files, err := os.ReadDir(dir)
	if err != nil || len(files) != len(ls) {
		t.Fatalf("spool directory holds %d files (%v), want %d", len(files), err, len(ls))
	}
	// The module cache is gone: Compressed can only read the spool.
	if err := modload.RemoveAll(res.GoModCache); err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("layer %q: %v", l.Name, err)
		}
		d, _ := l.Digest()
		if got := fmt.Sprintf("%x", h.Sum(nil)); got != d.Hex {
			t.Errorf("layer %q: Compressed hashes to %s, digest %s", l.Name, got, d.Hex)
		}
	}
}
