package modload_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/envlist"
	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
)

func download(t *testing.T, f *modloadtest.Fixture, opts ...modload.Option) (*modload.Result, error) {
	t.Helper()
	cache := filepath.Join(t.TempDir(), "modcache")
	t.Cleanup(func() { modloadtest.RemoveAll(cache) })
	opts = append([]modload.Option{modload.WithGoModCache(cache), modload.WithEnv(f.Env)}, opts...)
	return modload.Download(context.Background(), f.App, opts...)
}

func TestDownloadVerify(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	var progress []modload.Progress
	res, err := download(t, f, modload.WithProgress(func(p modload.Progress) { progress = append(progress, p) }))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Modules {
		got = append(got, m.String())
		if m.Zip == "" || m.Dir == "" || m.GoMod == "" || !strings.HasPrefix(m.Sum, "h1:") {
			t.Errorf("%s: incomplete: %+v", m, m)
		}
		if m.Private != strings.HasPrefix(m.Path, "corp.example/") {
			t.Errorf("%s: Private = %v", m, m.Private)
		}
	}
	want := []string{"corp.example/p@v1.0.0", "example.com/a@v1.0.0", "example.com/b@v1.0.0", "example.com/c@v1.0.0"}
	if !slices.Equal(got, want) {
		t.Errorf("modules = %q, want %q", got, want)
	}
	if res.GoVersion != "1.21" {
		t.Errorf("GoVersion = %q, want 1.21", res.GoVersion)
	}
	if len(progress) == 0 {
		t.Fatal("no progress reported")
	}
	if last := progress[len(progress)-1]; last.Done != 4 || last.Total != 4 || last.Bytes <= 0 {
		t.Errorf("last progress = %+v, want 4 of 4 modules and some bytes", last)
	}
	if _, err := modload.Verify(context.Background(), f.App, res); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestVerifyTampered changes the module cache after a download and checks
// that Verify names the module and both hashes.
func TestVerifyTampered(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	for _, tc := range []struct {
		what   string
		tamper func(m modload.Module) error
	}{
		{"zip", func(m modload.Module) error {
			// A valid zip of other content.
			other := modloadtest.NewProxy(t)
			other.Add(t, m.Path, m.Version, map[string]string{"c.go": "package c\n\nfunc C() string { return \"evil\" }\n"})
			data, err := os.ReadFile(filepath.Join(other.Dir, "example.com/c/@v/v1.0.0.zip"))
			if err != nil {
				return err
			}
			return writeForce(m.Zip, data)
		}},
		{"dir", func(m modload.Module) error {
			return writeForce(filepath.Join(m.Dir, "c.go"), []byte("package c\n\nfunc C() string { return \"evil\" }\n"))
		}},
		{"go.mod", func(m modload.Module) error {
			return writeForce(m.GoMod, []byte("module example.com/c\n\ngo 1.22\n"))
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			res, err := download(t, f)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(res.Modules, func(m modload.Module) bool { return m.Path == "example.com/c" })
			if err := tc.tamper(res.Modules[i]); err != nil {
				t.Fatal(err)
			}
			_, err = modload.Verify(context.Background(), f.App, res)
			var ve *modload.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("Verify = %v, want a *VerifyError", err)
			}
			if ve.What != tc.what || ve.Want == ve.Got || !strings.HasPrefix(ve.Got, "h1:") {
				t.Errorf("VerifyError = %+v, want what %q and differing hashes", ve, tc.what)
			}
			for _, s := range []string{"example.com/c@v1.0.0", ve.Want, ve.Got, "checksum mismatch"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func writeForce(name string, data []byte) error {
	os.Chmod(filepath.Dir(name), 0o755)
	os.Chmod(name, 0o644)
	return os.WriteFile(name, data, 0o644)
}

func TestDownloadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *modloadtest.Fixture)
		want  []string
	}{
		{
			name: "tampered zip on the proxy",
			setup: func(t *testing.T, f *modloadtest.Fixture) {
				f.Proxy.Replace(t, "example.com/c", "v1.0.0", map[string]string{"c.go": "package c\n\nfunc C() string { return \"evil\" }\n"})
			},
			want: []string{"example.com/c@v1.0.0", "checksum mismatch"},
		},
		{
			name: "module missing from the proxy",
			setup: func(t *testing.T, f *modloadtest.Fixture) {
				f.Proxy.Remove(t, "example.com/b", "v1.0.0", ".zip")
			},
			want: []string{"example.com/b@v1.0.0:", "v1.0.0.zip"},
		},
		{
			name: "missing go.sum entry",
			setup: func(t *testing.T, f *modloadtest.Fixture) {
				sum := filepath.Join(f.App, "go.sum")
				data, err := os.ReadFile(sum)
				if err != nil {
					t.Fatal(err)
				}
				var keep []string
				for _, l := range strings.SplitAfter(string(data), "\n") {
					if !strings.HasPrefix(l, "example.com/b ") {
						keep = append(keep, l)
					}
				}
				if err := os.WriteFile(sum, []byte(strings.Join(keep, "")), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"missing go.sum entry", "example.com/b", "go mod tidy"},
		},
		{
			name: "not a module",
			setup: func(t *testing.T, f *modloadtest.Fixture) {
				os.Remove(filepath.Join(f.App, "go.mod"))
			},
			want: []string{"not a Go module"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := modloadtest.NewFixture(t, "v1.0.0")
			tc.setup(t, f)
			res, err := download(t, f)
			if err == nil {
				t.Fatalf("Download succeeded with %d modules, want an error", len(res.Modules))
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not contain %q:\n%v", s, err)
				}
			}
		})
	}
}

// TestDownloadLeavesNoTemp checks that a failed or cancelled Download
// removes the module cache it made in TMPDIR, and that a cancelled one
// kills the go command's whole process group promptly.
func TestDownloadLeavesNoTemp(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *modloadtest.Fixture) (context.Context, []modload.Option)
		ok    bool
	}{
		{"success", func(t *testing.T, f *modloadtest.Fixture) (context.Context, []modload.Option) {
			return context.Background(), nil
		}, true},
		{"checksum mismatch", func(t *testing.T, f *modloadtest.Fixture) (context.Context, []modload.Option) {
			f.Proxy.Replace(t, "example.com/c", "v1.0.0", map[string]string{"c.go": "package c\n\nfunc C() string { return \"evil\" }\n"})
			return context.Background(), nil
		}, false},
		{"cancelled before", func(t *testing.T, f *modloadtest.Fixture) (context.Context, []modload.Option) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, nil
		}, false},
		{"cancelled while downloading", func(t *testing.T, f *modloadtest.Fixture) (context.Context, []modload.Option) {
			// A go command that hangs in 'go mod download' after writing
			// into the cache, in a child of its own (sleep).
			script := filepath.Join(t.TempDir(), "go")
			body := "#!/bin/sh\nif [ \"$1\" = mod ]; then mkdir -p \"$GOMODCACHE/cache/download/x\"; echo started >&2; sleep 60; fi\nexec " + goCmd + " \"$@\"\n"
			if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			go func() {
				// Cancel once the go command has started.
				buf := make([]byte, 7)
				io.ReadFull(pr, buf)
				cancel()
				io.Copy(io.Discard, pr)
			}()
			t.Cleanup(func() { pw.Close(); cancel() })
			return ctx, []modload.Option{modload.WithGoCommand(script), modload.WithStderr(pw)}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := modloadtest.NewFixture(t, "v1.0.0")
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			ctx, opts := tc.setup(t, f)
			start := time.Now()
			res, err := modload.Download(ctx, f.App, append([]modload.Option{modload.WithEnv(f.Env)}, opts...)...)
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("Download took %v", took)
			}
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(res.GoModCache, tmp) {
					t.Errorf("module cache %s is not in TMPDIR %s", res.GoModCache, tmp)
				}
				if err := modload.RemoveAll(res.GoModCache); err != nil {
					t.Fatal(err)
				}
			} else if err == nil {
				t.Fatal("Download succeeded, want an error")
			}
			entries, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("left in TMPDIR: %s", e.Name())
			}
		})
	}
}

// TestDownloadStalled serves the fixture's modules over HTTP from a proxy
// that stops answering after its first requests, as a stalled module proxy
// does, and wants Download to give up once nothing moved for the stall
// timeout, saying so, with nothing left in TMPDIR; a proxy that answers
// slowly but steadily is waited for.
func TestDownloadStalled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  int           // requests answered before the proxy stalls; -1 for all
		delay   time.Duration // before each answer
		stalled bool
	}{
		{"stalls", 3, 0, true},
		{"slow but steady", -1, 300 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := modloadtest.NewFixture(t, "v1.0.0")
			files := http.FileServer(http.Dir(f.Proxy.Dir))
			var mu sync.Mutex
			n := 0
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n++
				stall := tc.answer >= 0 && n > tc.answer
				mu.Unlock()
				if stall {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				time.Sleep(tc.delay)
				files.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(release) })
			env := envlist.Set(f.Env, "GOPROXY", srv.URL)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			start := time.Now()
			res, err := modload.Download(context.Background(), f.App, modload.WithEnv(env), modload.WithStallTimeout(time.Second))
			took := time.Since(start)
			var se *modload.StallError
			if !tc.stalled {
				if err != nil {
					t.Fatal(err)
				}
				modload.RemoveAll(res.GoModCache)
				return
			}
			if !errors.As(err, &se) {
				t.Fatalf("Download: %v, want a *modload.StallError", err)
			}
			if took > 15*time.Second {
				t.Errorf("Download gave up after %v, want about 1 s", took)
			}
			if !strings.Contains(err.Error(), "no progress for 1s") || !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %q does not say how long and which GOPROXY", err)
			}
			if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
				t.Errorf("left in TMPDIR: %v", entries)
			}
		})
	}
}

// TestDownloadGoEnvFile checks that a GOPRIVATE set with 'go env -w' (in
// the go env file, not the environment) marks the private modules, as it
// does for the go command.
func TestDownloadGoEnvFile(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	file := filepath.Join(t.TempDir(), "env")
	var env []string
	for _, kv := range f.Env {
		if !strings.HasPrefix(kv, "GOPRIVATE=") && !strings.HasPrefix(kv, "GOENV=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GOENV="+file)
	w := exec.Command("go", "env", "-w", "GOPRIVATE="+modloadtest.Private)
	w.Env = env
	if out, err := w.CombinedOutput(); err != nil {
		t.Fatalf("go env -w: %v\n%s", err, out)
	}
	res, err := download(t, f, modload.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	if res.GoPrivate != modloadtest.Private || res.GoEnv == nil || res.GoEnv.GOPRIVATE != modloadtest.Private {
		t.Errorf("GoPrivate = %q, GoEnv = %+v; want %q from the go env file", res.GoPrivate, res.GoEnv, modloadtest.Private)
	}
	for _, m := range res.Modules {
		if m.Private != strings.HasPrefix(m.Path, "corp.example/") {
			t.Errorf("%s: Private = %v", m, m.Private)
		}
	}
}
