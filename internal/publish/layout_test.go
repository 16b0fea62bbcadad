package publish

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/prune"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func newLayout(t *testing.T) *layoutTarget {
	t.Helper()
	tgt, err := ParseTarget("oci:" + filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	return tgt.(*layoutTarget)
}

// checkLayout validates every image and index index.json names, blob by
// blob, with go-containerregistry's validate package.
func checkLayout(t *testing.T, dir string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("layout %s is not valid: %v", dir, err)
	}
}

// TestLayoutIncomplete deletes or damages one blob of a tag at a time: the
// tag is then a miss naming the blob, and writing it again repairs it.
func TestLayoutIncomplete(t *testing.T) {
	ctx := context.Background()
	img := image(t, nil, 2, 3000)
	idx, err := random.Index(1000, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	layer := func(a Artifact) v1.Hash {
		ls := mustLayers(t, a.(v1.Image))
		d, _ := ls[1].Digest()
		return d
	}
	config := func(a Artifact) v1.Hash { d, _ := a.(v1.Image).ConfigName(); return d }
	manifest := func(a Artifact) v1.Hash { d, _ := a.Digest(); return d }
	child := func(a Artifact) v1.Hash {
		im, _ := a.(v1.ImageIndex).IndexManifest()
		return im.Manifests[1].Digest
	}
	for _, tc := range []struct {
		name   string
		art    Artifact
		blob   func(Artifact) v1.Hash
		damage func(file string) error
	}{
		{"layer deleted", img, layer, os.Remove},
		{"layer cut short", img, layer, func(f string) error { return os.Truncate(f, 10) }},
		{"config deleted", img, config, os.Remove},
		{"manifest deleted", img, manifest, os.Remove},
		{"manifest damaged", img, manifest, func(f string) error {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			data[len(data)-2] ^= 1
			return os.WriteFile(f, data, 0o644)
		}},
		{"index child deleted", idx, child, os.Remove},
		{"index deleted", idx, manifest, os.Remove},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt := newLayout(t)
			if _, err := tgt.Write(ctx, testKey, tc.art); err != nil {
				t.Fatal(err)
			}
			if _, err := tgt.Lookup(ctx, testKey); err != nil {
				t.Fatal(err)
			}
			h := tc.blob(tc.art)
			if err := tc.damage(tgt.blobPath(h)); err != nil {
				t.Fatal(err)
			}
			_, err := tgt.Lookup(ctx, testKey)
			var ie *IncompleteError
			if !errors.As(err, &ie) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("Lookup = %v, want an *IncompleteError that is ErrNotFound", err)
			}
			if !slices.Contains(ie.Missing, h) || !strings.Contains(err.Error(), h.String()) {
				t.Errorf("Lookup error %q does not name %s", err, h)
			}
			// Writing the tag again (warm's rebuild, or --force) repairs it.
			if _, err := tgt.Write(ctx, testKey, tc.art); err != nil {
				t.Fatalf("Write over the incomplete tag: %v", err)
			}
			if _, err := tgt.Lookup(ctx, testKey); err != nil {
				t.Fatalf("Lookup after the repair: %v", err)
			}
			checkLayout(t, tgt.dir)
		})
	}
}

// TestLayoutModes writes a layout under a umask and checks that every file
// and directory got the mode the umask allows.
func TestLayoutModes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		umask         int
		file, dirMode fs.FileMode
	}{
		{0o022, 0o644, 0o755},
		{0o002, 0o664, 0o775},
		{0o077, 0o600, 0o700},
	} {
		t.Run(tc.file.String(), func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			tgt := newLayout(t)
			if _, err := tgt.Write(ctx, testKey, image(t, nil, 1, 100)); err != nil {
				t.Fatal(err)
			}
			if err := tgt.WriteStamp(ctx, testKey, Stamp{Published: time.Now()}); err != nil {
				t.Fatal(err)
			}
			n := 0
			err := filepath.WalkDir(tgt.dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				want := tc.file
				if d.IsDir() {
					want = tc.dirMode
				}
				if got := info.Mode().Perm(); got != want {
					t.Errorf("%s: mode %v, want %v", p, got, want)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n < 8 {
				t.Errorf("walked %d files, want the layout's", n)
			}
		})
	}
}

// TestLayoutGC replaces a tag (as warm --force does) and leaves temporary
// files behind: GC lists, then removes, exactly the unused blobs and the
// temporary files old enough; every tag still reads.
func TestLayoutGC(t *testing.T) {
	ctx := context.Background()
	tgt := newLayout(t)
	old := image(t, nil, 2, 2000)
	shared := mustLayers(t, old)[:1]
	if _, err := tgt.Write(ctx, testKey, old); err != nil {
		t.Fatal(err)
	}
	other := image(t, nil, 1, 500)
	const otherTag = "ck1-00000000000000000000000000000001"
	if _, err := tgt.Write(ctx, otherTag, other); err != nil {
		t.Fatal(err)
	}
	// The tag now names an image sharing one layer with the old one.
	if _, err := tgt.Write(ctx, testKey, image(t, shared, 1, 700)); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, h := range []func() (v1.Hash, error){old.Digest, old.ConfigName, mustLayers(t, old)[1].Digest} {
		d, err := h()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "blobs/sha256/"+d.Hex)
	}
	now := time.Now()
	for _, f := range []struct {
		name string
		age  time.Duration
	}{
		{"blobs/sha256/.tmp-0123456789ab-1", time.Hour},
		{".tmp-index.json-2", time.Hour},
		{"blobs/sha256/.tmp-0123456789ab-3", time.Second}, // young: spared
		{"blobs/sha256/not-a-blob", time.Hour},            // not ours: spared
	} {
		p := filepath.Join(tgt.dir, filepath.FromSlash(f.name))
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-f.age), now.Add(-f.age)); err != nil {
			t.Fatal(err)
		}
		if f.age == time.Hour && !strings.Contains(f.name, "not-a-blob") {
			want = append(want, f.name)
		}
	}
	// The unused blobs are as young as the test: age them too.
	for _, p := range want[:3] {
		os.Chtimes(filepath.Join(tgt.dir, p), now.Add(-time.Hour), now.Add(-time.Hour))
	}
	slices.Sort(want)
	policy := prune.GCPolicy{OlderThan: 10 * time.Minute, Now: now}
	paths := func(fs []prune.File) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Path)
		}
		return out
	}
	listed, broken, err := tgt.GC(ctx, policy, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(listed); !slices.Equal(got, want) || len(broken) > 0 {
		t.Fatalf("GC dry run = %q, broken %q; want %q, none broken", got, broken, want)
	}
	for _, p := range want {
		if _, err := os.Stat(filepath.Join(tgt.dir, p)); err != nil {
			t.Errorf("dry run removed %s", p)
		}
	}
	removed, _, err := tgt.GC(ctx, policy, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(removed); !slices.Equal(got, want) {
		t.Fatalf("GC removed %q, want %q", got, want)
	}
	for _, p := range want {
		if _, err := os.Stat(filepath.Join(tgt.dir, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there after GC", p)
		}
	}
	for _, tag := range []string{testKey, otherTag} {
		if _, err := tgt.Lookup(ctx, tag); err != nil {
			t.Errorf("Lookup %s after GC: %v", tag, err)
		}
	}
	checkLayout(t, tgt.dir)
	// Nothing left to collect but the young file; with no age, it goes.
	removed, _, err = tgt.GC(ctx, prune.GCPolicy{Now: now}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(removed); !slices.Equal(got, []string{"blobs/sha256/.tmp-0123456789ab-3"}) {
		t.Errorf("second GC removed %q, want the young temporary file", got)
	}

	// A tag with a missing blob is named broken, and what it still names
	// is kept.
	l, _ := mustLayers(t, other)[0].Digest()
	os.Remove(tgt.blobPath(l))
	_, broken, err = tgt.GC(ctx, prune.GCPolicy{Now: now}, true)
	if err != nil || !slices.Equal(broken, []string{otherTag}) {
		t.Errorf("GC broken = %q, %v; want %s", broken, err, otherTag)
	}
}

// TestLayoutGCWaitsForWrite: GC waits for a Write under way (which holds
// the blobs lock shared from its first blob to its tag).
func TestLayoutGCWaitsForWrite(t *testing.T) {
	if !Locks {
		t.Skip("no file locks on this system")
	}
	ctx := context.Background()
	tgt := newLayout(t)
	if _, err := tgt.Write(ctx, testKey, image(t, nil, 1, 100)); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockFile(filepath.Join(tgt.dir, blobsLock), false)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := tgt.GC(ctx, prune.GCPolicy{Now: time.Now()}, false)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("GC ran while a write held the layout: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
