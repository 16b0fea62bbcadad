package publish

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestRegistryForbidden: a registry that accepts the credentials but
// refuses the push (403 DENIED, as a registry answers an account without
// write access) fails with an error naming the repository and saying what
// to do; no tag is written and the token is never printed.
func TestRegistryForbidden(t *testing.T) {
	const token = "s3cret-push-token-do-not-print"
	var refused atomic.Int32
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodPut, http.MethodPost, http.MethodPatch:
				refused.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	tgt, err := ParseTarget(host+"/team/app-deps", WithKeychain(staticKeychain{"ci", token}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = tgt.Write(ctx, testKey, image(t, nil, 2, 1000))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden {
		t.Fatalf("Write to a registry refusing pushes = %v, want a 403 transport.Error", err)
	}
	if refused.Load() == 0 {
		t.Fatal("the registry refused no request: the test did not exercise a refused push")
	}
	t.Logf("the error: %v", err)
	msg := err.Error()
	for _, want := range []string{host + "/team/app-deps", "DENIED", "ask for push access", "docker login " + host} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, token) {
		t.Fatalf("error prints the token: %v", err)
	}
	if _, err := tgt.Lookup(ctx, testKey); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after a refused push = %v, want ErrNotFound (no tag)", err)
	}
}

// TestLayoutDiskFull writes to an OCI layout on a 2 MB tmpfs: a write that
// does not fit fails with an error saying the disk is full, leaves no tag
// in index.json (the tag written before is kept) and no temporary file.
// Mounting needs root (CI runs as root); elsewhere the test is skipped.
func TestLayoutDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		if testenv.Integration() {
			t.Fatalf("mounting a 2 MB tmpfs on %s: %v\n%s", dir, err, out)
		}
		t.Skipf("mounting a tmpfs needs root: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	tgt, err := ParseTarget("oci:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const kept = "ck1-kept"
	if _, err := tgt.Write(ctx, kept, image(t, nil, 1, 100_000)); err != nil {
		t.Fatal(err)
	}
	// Random bytes do not compress: 3 layers of 1 MB cannot fit.
	_, err = tgt.Write(ctx, testKey, image(t, nil, 3, 1<<20))
	if err == nil {
		t.Fatal("Write of 3 MB to a 2 MB file system succeeded")
	}
	t.Logf("the error: %v", err)
	for _, want := range []string{"no space left on device", "is full", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if _, err := tgt.Lookup(ctx, testKey); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after a full disk = %v, want ErrNotFound (no tag)", err)
	}
	if _, err := tgt.Lookup(ctx, kept); err != nil {
		t.Fatalf("the tag written before the full disk is gone: %v", err)
	}
	index, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(index), testKey) {
		t.Fatalf("index.json names the failed tag:\n%s", index)
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", path)
		}
		return nil
	})
}
