package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// newRegistry starts go-containerregistry's in-memory registry and returns
// its host:port; handler, when not nil, wraps it.
func newRegistry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(discardLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// targets returns one target of each kind, fresh.
func targets(t *testing.T, opts ...Option) map[string]Target {
	t.Helper()
	dir := t.TempDir()
	m := map[string]Target{}
	for _, spec := range []string{
		newRegistry(t, nil) + "/team/app-deps",
		"oci:" + filepath.Join(dir, "oci"),
		"tarball:" + filepath.Join(dir, "deps.tar"),
	} {
		tgt, err := ParseTarget(spec, opts...)
		if err != nil {
			t.Fatal(err)
		}
		m[strings.SplitN(fmt.Sprintf("%T", tgt), ".", 2)[1]] = tgt
	}
	return m
}

// image returns an image of n random layers of size bytes, with the given
// shared layers first.
func image(t testing.TB, shared []v1.Layer, n int, size int64) v1.Image {
	t.Helper()
	img := empty.Image
	layers := append([]v1.Layer{}, shared...)
	for i := 0; i < n; i++ {
		l, err := random.Layer(size, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(img, types.OCIConfigJSON), types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustLayers(t *testing.T, img v1.Image) []v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func TestWriteLookupList(t *testing.T) {
	ctx := context.Background()
	for kind, tgt := range targets(t) {
		t.Run(kind, func(t *testing.T) {
			if _, err := tgt.Lookup(ctx, testKey); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Lookup before Write = %v, want ErrNotFound", err)
			}
			entries, err := tgt.List(ctx)
			if err != nil || len(entries) != 0 {
				t.Fatalf("List before Write = %v, %v; want nothing", entries, err)
			}
			img := image(t, nil, 3, 1000)
			rep, err := tgt.Write(ctx, testKey, img)
			if err != nil {
				t.Fatal(err)
			}
			if n, r := rep.Counts(); n != 3 || r != 0 {
				t.Errorf("first Write: %d new, %d reused layers; want 3, 0", n, r)
			}
			desc, err := tgt.Lookup(ctx, testKey)
			if err != nil {
				t.Fatalf("Lookup after Write: %v", err)
			}
			if desc.Digest != rep.Digest {
				t.Errorf("Lookup digest %s, Write reported %s", desc.Digest, rep.Digest)
			}
			if _, ok := tgt.(*tarballTarget); !ok {
				want, _ := img.Digest()
				if desc.Digest != want {
					t.Errorf("Lookup digest %s, want the image's %s", desc.Digest, want)
				}
			}
			if got := tgt.Ref(testKey, *desc); got != rep.Ref {
				t.Errorf("Ref = %q, Write reported %q", got, rep.Ref)
			}
			// A tag that is not a cachecheck tag is not listed.
			if _, err := tgt.Write(ctx, "latest", img); err != nil {
				t.Fatal(err)
			}
			if _, ok := tgt.(*tarballTarget); ok {
				// A tarball holds one image; write it back.
				if _, err := tgt.Write(ctx, testKey, img); err != nil {
					t.Fatal(err)
				}
			}
			entries, err = tgt.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Tag.String() != testKey {
				t.Fatalf("List = %+v, want one entry for %s", entries, testKey)
			}
			got, err := entries[0].Image()
			if err != nil {
				t.Fatal(err)
			}
			// Image reads the same image from the descriptor Lookup gives.
			byTag, err := tgt.Image(ctx, testKey, *desc)
			if err != nil {
				t.Fatalf("Image: %v", err)
			}
			if g, w := mustDigest(t, byTag), mustDigest(t, got); g != w {
				t.Errorf("Image digest %s, listed image %s", g, w)
			}
			gotLayers, wantLayers := mustLayers(t, got), mustLayers(t, img)
			if len(gotLayers) != len(wantLayers) {
				t.Fatalf("listed image has %d layers, want %d", len(gotLayers), len(wantLayers))
			}
			for i := range gotLayers {
				g, _ := gotLayers[i].DiffID()
				w, _ := wantLayers[i].DiffID()
				if g != w {
					t.Errorf("layer %d: diff ID %s, want %s", i, g, w)
				}
			}
		})
	}
}

func TestWriteReusesLayers(t *testing.T) {
	ctx := context.Background()
	for kind, tgt := range targets(t) {
		if kind == "tarballTarget" {
			continue // a tarball is rewritten whole
		}
		t.Run(kind, func(t *testing.T) {
			first := image(t, nil, 4, 10000)
			rep1, err := tgt.Write(ctx, testKey, first)
			if err != nil {
				t.Fatal(err)
			}
			// Same image again: nothing new.
			rep, err := tgt.Write(ctx, testKey, first)
			if err != nil {
				t.Fatal(err)
			}
			if n, r := rep.Counts(); n != 0 || r != 4 {
				t.Errorf("rewrite: %d new, %d reused; want 0, 4", n, r)
			}
			// One layer changed: one new, three reused, and the bytes
			// written are about one layer's.
			second := image(t, mustLayers(t, first)[:3], 1, 10000)
			rep2, err := tgt.Write(ctx, "ck1-00000000000000000000000000000001", second)
			if err != nil {
				t.Fatal(err)
			}
			if n, r := rep2.Counts(); n != 1 || r != 3 {
				t.Errorf("one layer changed: %d new, %d reused; want 1, 3", n, r)
			}
			newSize := rep2.Layers[3].Size
			if rep2.BytesWritten < newSize || rep2.BytesWritten > newSize+4096 {
				t.Errorf("one layer changed: wrote %d bytes, want the new layer's %d plus a config", rep2.BytesWritten, newSize)
			}
			if rep1.BytesWritten < 4*newSize {
				t.Errorf("first write: %d bytes, want at least 4 layers' %d", rep1.BytesWritten, 4*newSize)
			}
		})
	}
}

func TestWriteIndex(t *testing.T) {
	ctx := context.Background()
	idx, err := random.Index(1000, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	for kind, tgt := range targets(t) {
		t.Run(kind, func(t *testing.T) {
			rep, err := tgt.Write(ctx, testKey, idx)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := tgt.Lookup(ctx, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if kind == "tarballTarget" {
				if n, _ := rep.Counts(); n != 2 {
					t.Errorf("tarball of an index holds %d layers, want one image's 2", n)
				}
				return
			}
			want, _ := idx.Digest()
			if desc.Digest != want || !desc.MediaType.IsIndex() {
				t.Errorf("Lookup = %s %s, want index %s", desc.MediaType, desc.Digest, want)
			}
			if n, _ := rep.Counts(); n != 6 {
				t.Errorf("%d new layers, want 6", n)
			}
			entries, err := tgt.List(ctx)
			if err != nil || len(entries) != 1 {
				t.Fatalf("List = %v, %v", entries, err)
			}
			if _, err := entries[0].Image(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// failingLayer is a layer whose content fails after some bytes.
type failingLayer struct{ v1.Layer }

func (l failingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, 100), errReader{}), rc}, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestInterruptedWriteLeavesNoTag: a write that fails half-way leaves no
// tag (and, for a layout or tarball, no partial file).
func TestInterruptedWriteLeavesNoTag(t *testing.T) {
	ctx := context.Background()
	// The layer's error is retried as any error of unknown kind is: with
	// the default timeout the waits add up to 15 s, with 1 s to 4 s.
	for kind, tgt := range targets(t, WithTimeout(time.Second)) {
		t.Run(kind, func(t *testing.T) {
			img := image(t, nil, 2, 5000)
			ls := mustLayers(t, img)
			bad, err := mutate.AppendLayers(image(t, ls[:1], 0, 0), failingLayer{ls[1]})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tgt.Write(ctx, testKey, bad); err == nil || !strings.Contains(err.Error(), "disk on fire") {
				t.Fatalf("Write of a failing layer = %v, want the layer's error", err)
			}
			if _, err := tgt.Lookup(ctx, testKey); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Lookup after failed Write = %v, want ErrNotFound", err)
			}
			var dir string
			switch tgt := tgt.(type) {
			case *layoutTarget:
				dir = filepath.Join(tgt.dir, "blobs", "sha256")
			case *tarballTarget:
				dir = filepath.Dir(tgt.file)
			}
			if dir != "" {
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), ".tmp-") {
						t.Errorf("temporary file %s left behind", e.Name())
					}
				}
			}
		})
	}
}

// TestRegistryTagWrittenLast records the requests of a push: the tag's
// manifest PUT comes after every blob and after the manifest by digest.
func TestRegistryTagWrittenLast(t *testing.T) {
	var mu sync.Mutex
	var log []string
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodPatch {
				mu.Lock()
				log = append(log, r.Method+" "+r.URL.Path)
				mu.Unlock()
			}
			h.ServeHTTP(w, r)
		})
	})
	tgt, err := ParseTarget(host + "/deps")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(500, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tgt.Write(context.Background(), testKey, idx); err != nil {
		t.Fatal(err)
	}
	tagPut := "PUT /v2/deps/manifests/" + testKey
	for i, l := range log {
		if l == tagPut && i != len(log)-1 {
			t.Fatalf("tag written before the end; requests:\n%s", strings.Join(log, "\n"))
		}
	}
	if len(log) == 0 || log[len(log)-1] != tagPut {
		t.Fatalf("last request is not the tag; requests:\n%s", strings.Join(log, "\n"))
	}
}

// TestRegistryUnauthorized: a registry that wants credentials we do not
// have fails with a transport.Error naming the status, no tag is written,
// and the password never appears in the error.
func TestRegistryUnauthorized(t *testing.T) {
	const user, password = "ci", "s3cret-token-do-not-print"
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	img := image(t, nil, 1, 100)
	wrong, err := ParseTarget(host+"/deps", WithKeychain(staticKeychain{user, "wrong-" + password}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Write(ctx, testKey, img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Write with a wrong password = %v, want a 401 transport.Error", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error prints the password: %v", err)
	}
	right, err := ParseTarget(host+"/deps", WithKeychain(staticKeychain{user, password}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := right.Lookup(ctx, testKey); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after refused Write = %v, want ErrNotFound", err)
	}
	if _, err := right.Write(ctx, testKey, img); err != nil {
		t.Fatal(err)
	}
	if _, err := right.Lookup(ctx, testKey); err != nil {
		t.Fatal(err)
	}
}

type staticKeychain struct{ user, password string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.password}, nil
}

func TestRegistryUnreachable(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(s.URL, "http://")
	s.Close()
	tgt, err := ParseTarget(host+"/deps", WithRemoteOptions(remote.WithRetryBackoff(remote.Backoff{Steps: 1})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tgt.Lookup(context.Background(), testKey)
	if err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Lookup on a closed port = %v, want connection refused", err)
	}
}

func TestProgress(t *testing.T) {
	ctx := context.Background()
	var last Progress
	for kind, tgt := range targets(t, WithProgress(func(p Progress) { last = p })) {
		t.Run(kind, func(t *testing.T) {
			last = Progress{}
			if _, err := tgt.Write(ctx, testKey, image(t, nil, 2, 20000)); err != nil {
				t.Fatal(err)
			}
			if last.Complete < 40000 || last.Complete != last.Total {
				t.Errorf("last progress %+v, want complete = total >= 40000", last)
			}
		})
	}
}

// TestLayoutConcurrentWrites: writers of different tags into one layout at
// once all end up in index.json.
func TestLayoutConcurrentWrites(t *testing.T) {
	tgt, err := ParseTarget("oci:" + filepath.Join(t.TempDir(), "oci"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	imgs := make([]v1.Image, n)
	for i := range imgs {
		imgs[i] = image(t, nil, 1, 100)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := tgt.Write(context.Background(), fmt.Sprintf("ck1-%032x", i+1), imgs[i])
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, err := tgt.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("List has %d entries after %d concurrent writes", len(entries), n)
	}
}

// TestPrepush: layers sent ahead of the image count as new in the Write
// that follows, once, and their bytes are reported.
func TestPrepush(t *testing.T) {
	ctx := context.Background()
	tgt, err := ParseTarget(newRegistry(t, nil) + "/deps")
	if err != nil {
		t.Fatal(err)
	}
	img := image(t, nil, 3, 20000)
	if err := tgt.(Prepusher).Prepush(ctx, mustLayers(t, img)); err != nil {
		t.Fatal(err)
	}
	rep, err := tgt.Write(ctx, testKey, img)
	if err != nil {
		t.Fatal(err)
	}
	if n, r := rep.Counts(); n != 3 || r != 0 {
		t.Errorf("after Prepush: %d new, %d reused; want 3, 0", n, r)
	}
	if rep.BytesWritten < 3*rep.Layers[0].Size || rep.BytesWritten > 3*rep.Layers[0].Size+4096 {
		t.Errorf("after Prepush: %d bytes written, want the 3 layers' %d and a config", rep.BytesWritten, 3*rep.Layers[0].Size)
	}
	if err := tgt.(Prepusher).Prepush(ctx, mustLayers(t, img)); err != nil {
		t.Fatal(err)
	}
	rep, err = tgt.Write(ctx, testKey, img)
	if err != nil {
		t.Fatal(err)
	}
	if n, r := rep.Counts(); n != 0 || r != 3 || rep.BytesWritten != 0 {
		t.Errorf("again: %d new, %d reused, %d bytes; want 0, 3, 0", n, r, rep.BytesWritten)
	}
}

// TestPrepushConcurrent: two targets of one repository prepushing the same
// layers at once (two warms of warm --all --jobs 2 whose units share
// modules) send each layer once between them; the other finds it there.
func TestPrepushConcurrent(t *testing.T) {
	ctx := context.Background()
	img := image(t, nil, 4, 200000)
	layers := mustLayers(t, img)
	var size int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		size += n
	}
	for round := 0; round < 5; round++ {
		// A registry each round: the in-memory one keeps blobs across
		// repositories.
		repo := newRegistry(t, nil) + "/deps"
		reps := make([]*Report, 2)
		var wg sync.WaitGroup
		for i := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tgt, err := ParseTarget(repo)
				if err != nil {
					t.Error(err)
					return
				}
				if err := tgt.(Prepusher).Prepush(ctx, mustLayers(t, img)); err != nil {
					t.Error(err)
					return
				}
				if reps[i], err = tgt.Write(ctx, testKey, img); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		sent := reps[0].BytesWritten + reps[1].BytesWritten
		if sent < size || sent > size+2*4096 {
			t.Errorf("round %d: the two pushes sent %d and %d bytes; want the layers' %d once between them (and the configs)", round, reps[0].BytesWritten, reps[1].BytesWritten, size)
		}
	}
}
