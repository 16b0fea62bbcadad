package publish

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pruners returns a registry target (the in-memory registry) and an OCI
// layout target, fresh.
func pruners(t *testing.T) map[string]Pruner {
	t.Helper()
	m := map[string]Pruner{}
	for kind, tgt := range targets(t) {
		if p, ok := tgt.(Pruner); ok {
			m[kind] = p
		}
	}
	if len(m) != 2 {
		t.Fatalf("%d targets are Pruners, want the registry and the OCI layout", len(m))
	}
	return m
}

func TestStampAndDelete(t *testing.T) {
	ctx := context.Background()
	const other = "ck1-00000000000000000000000000000002"
	for kind, tgt := range pruners(t) {
		t.Run(kind, func(t *testing.T) {
			shared := mustLayers(t, image(t, nil, 1, 500))
			img1, img2 := image(t, shared, 2, 1000), image(t, shared, 1, 1000)
			rep1, err := tgt.Write(ctx, testKey, img1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tgt.Write(ctx, other, img2); err != nil {
				t.Fatal(err)
			}
			if _, err := tgt.ReadStamp(ctx, testKey); !errors.Is(err, ErrNotFound) {
				t.Fatalf("ReadStamp before WriteStamp = %v, want ErrNotFound", err)
			}
			pub := time.Date(2024, 2, 3, 4, 5, 6, 789, time.UTC)
			if err := tgt.WriteStamp(ctx, testKey, Stamp{Digest: rep1.Digest, Published: pub}); err != nil {
				t.Fatal(err)
			}
			st, err := tgt.ReadStamp(ctx, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Published.Equal(pub) || st.Digest != rep1.Digest {
				t.Errorf("ReadStamp = %+v, want %v of %s", st, pub, rep1.Digest)
			}
			// A stamp is not a deps image.
			entries, err := tgt.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var tags []string
			for _, e := range entries {
				tags = append(tags, e.Tag.String())
			}
			if got := strings.Join(tags, " "); got != other+" "+testKey {
				t.Errorf("List = %s, want the two images and no stamp", got)
			}

			desc, err := tgt.Lookup(ctx, testKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := tgt.Delete(ctx, testKey, *desc); err != nil {
				t.Fatal(err)
			}
			if _, err := tgt.Lookup(ctx, testKey); !errors.Is(err, ErrNotFound) {
				t.Errorf("Lookup after Delete = %v, want ErrNotFound", err)
			}
			if _, err := tgt.ReadStamp(ctx, testKey); !errors.Is(err, ErrNotFound) {
				t.Errorf("ReadStamp after Delete = %v, want ErrNotFound", err)
			}
			if _, err := tgt.Lookup(ctx, other); err != nil {
				t.Errorf("the other image after Delete: %v", err)
			}
			// Deleting again is not an error.
			if err := tgt.Delete(ctx, testKey, *desc); err != nil {
				t.Errorf("second Delete: %v", err)
			}
			lt, ok := tgt.(*layoutTarget)
			if !ok {
				return
			}
			// The layout keeps the shared layer and the other image's
			// blobs, and drops the rest of the deleted image's.
			exists := func(h v1.Hash) bool { _, err := os.Stat(lt.blobPath(h)); return err == nil }
			for _, l := range mustLayers(t, img2) {
				if d, _ := l.Digest(); !exists(d) {
					t.Errorf("layer %s of the remaining image was removed", d)
				}
			}
			for i, l := range mustLayers(t, img1) {
				d, _ := l.Digest()
				if want := i == 0; exists(d) != want {
					t.Errorf("layer %d (%s) of the deleted image: present %v, want %v", i, d, exists(d), want)
				}
			}
			if exists(rep1.Digest) {
				t.Errorf("manifest %s of the deleted image is still in the layout", rep1.Digest)
			}
			// The layout still reads.
			if _, err := os.Stat(filepath.Join(lt.dir, "index.json")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRegistryDeleteRefused checks the message when the registry refuses
// deletes, as distribution does with storage.delete.enabled false (405,
// UNSUPPORTED). The real registry is in cmd/cachecheck's integration test.
func TestRegistryDeleteRefused(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusMethodNotAllowed)
				w.Write([]byte(`{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	tgt, err := ParseTarget(host + "/team/app-deps")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := tgt.Write(ctx, testKey, image(t, nil, 1, 100))
	if err != nil {
		t.Fatal(err)
	}
	err = tgt.(Pruner).Delete(ctx, testKey, v1.Descriptor{Digest: rep.Digest})
	if !errors.Is(err, ErrDeleteDisabled) || !strings.Contains(err.Error(), "storage.delete.enabled") {
		t.Fatalf("Delete = %v, want ErrDeleteDisabled naming storage.delete.enabled", err)
	}
	if _, err := tgt.Lookup(ctx, testKey); err != nil {
		t.Errorf("the image after a refused delete: %v", err)
	}
}
