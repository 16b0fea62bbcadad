package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/faultproxy"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// faultyRegistry starts go-containerregistry's in-memory registry (wrapped
// by wrap when not nil) behind a fault proxy; it returns the proxy and the
// registry's own host, to check it directly.
func faultyRegistry(t *testing.T, wrap func(http.Handler) http.Handler) (*faultproxy.Proxy, string) {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(discardLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	p, err := faultproxy.New(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.Hold = 5 * time.Second
	return p, strings.TrimPrefix(s.URL, "http://")
}

// checkPublished checks in the registry at host, directly, that tag names
// want and that every blob it names is there.
func checkPublished(t *testing.T, host, tag string, want v1.Hash) {
	t.Helper()
	tgt, err := ParseTarget(host + "/team/app-deps")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	desc, err := tgt.Lookup(ctx, tag)
	if err != nil {
		t.Fatalf("tag %s in the registry: %v", tag, err)
	}
	if desc.Digest != want {
		t.Fatalf("tag %s names %s, want %s", tag, desc.Digest, want)
	}
	img, err := tgt.Image(ctx, tag, *desc)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, _ := l.Digest()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("blob %s of tag %s: %v", d, tag, err)
		}
		h, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || h != d {
			t.Fatalf("blob %s of tag %s reads as %s: %v", d, tag, h, err)
		}
	}
}

// TestSingleFaultAbsorbed injects one fault of every kind into every kind
// of request a warm sends: the write, its stamp, the lookup and the read
// of the image all succeed, and the registry holds the image whole.
func TestSingleFaultAbsorbed(t *testing.T) {
	requests := []struct {
		name, method, path string
	}{
		{"ping", "GET", `^/v2/$`},
		{"lookup", "HEAD", `/manifests/`},
		{"read-manifest", "GET", `/manifests/`},
		{"read-blob", "GET", `/blobs/sha256:`},
		{"exists-blob", "HEAD", `/blobs/sha256:`},
		{"start-upload", "POST", `/blobs/uploads/`},
		{"upload", "PATCH", `/blobs/uploads/`},
		{"commit-upload", "PUT", `/blobs/uploads/`},
		{"put-manifest", "PUT", `/manifests/sha256:`},
		{"put-tag", "PUT", `/manifests/ck1-[0-9a-f]+$`},
		{"put-stamp", "PUT", `/manifests/.*\.stamp$`},
	}
	for _, rq := range requests {
		for _, kind := range faultproxy.Kinds {
			t.Run(rq.name+"/"+kind.String(), func(t *testing.T) {
				t.Parallel()
				p, host := faultyRegistry(t, nil)
				p.RetryAfter = 0
				p.AddRule(faultproxy.Rule{Method: rq.method, Path: regexp.MustCompile(rq.path), Kind: kind, Times: 1})
				tgt, err := ParseTarget(p.Host+"/team/app-deps", WithTimeout(200*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				pr := tgt.(Pruner)
				ctx := context.Background()
				img := image(t, nil, 2, 50_000)
				rep, err := tgt.Write(ctx, testKey, img)
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				if err := pr.WriteStamp(ctx, testKey, Stamp{Digest: rep.Digest, Published: time.Now()}); err != nil {
					t.Fatalf("WriteStamp: %v", err)
				}
				desc, err := tgt.Lookup(ctx, testKey)
				if err != nil {
					t.Fatalf("Lookup: %v", err)
				}
				if _, err := pr.ReadStamp(ctx, testKey); err != nil {
					t.Fatalf("ReadStamp: %v", err)
				}
				got, err := tgt.Image(ctx, testKey, *desc)
				if err != nil {
					t.Fatalf("Image: %v", err)
				}
				if _, err := got.ConfigFile(); err != nil {
					t.Fatalf("reading the config: %v", err)
				}
				if _, _, err := ResolveBase(ctx, p.Host+"/team/app-deps:"+testKey, WithTimeout(200*time.Millisecond)); err != nil {
					t.Fatalf("ResolveBase: %v", err)
				}
				if p.Injected() != 1 {
					t.Fatalf("%d faults injected, want 1 (%v)", p.Injected(), p.Events())
				}
				checkPublished(t, host, testKey, rep.Digest)
			})
		}
	}
}

// TestStallBounded: a registry that accepts every request and never
// answers fails a lookup within the bound its timeout sets, with an error
// naming the registry, the operation and what to do.
func TestStallBounded(t *testing.T) {
	for _, kind := range []faultproxy.Kind{faultproxy.BlackHole, faultproxy.Stall} {
		t.Run(kind.String(), func(t *testing.T) {
			p, _ := faultyRegistry(t, nil)
			p.AddRule(faultproxy.Rule{Kind: kind})
			const timeout = 100 * time.Millisecond
			tgt, err := ParseTarget(p.Host+"/team/app-deps", WithTimeout(timeout))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = tgt.Lookup(context.Background(), testKey)
			took := time.Since(start)
			t.Logf("after %s: %v", took, err)
			var re *RegistryError
			if !errors.As(err, &re) {
				t.Fatalf("Lookup through a %s = %v, want a RegistryError", kind, err)
			}
			if bound := newNetConfig(timeout).opTimeout() + time.Second; took > bound {
				t.Errorf("Lookup took %s, more than %s", took, bound)
			}
			for _, want := range []string{"registry " + p.Host, "looking up tag " + testKey, "--timeout"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q", want)
				}
			}
		})
	}
}

// TestRetryAfter: a 429 is retried after the Retry-After the registry
// asked for, not before.
func TestRetryAfter(t *testing.T) {
	p, _ := faultyRegistry(t, nil)
	p.RetryAfter = 1
	p.AddRule(faultproxy.Rule{Method: "HEAD", Path: regexp.MustCompile(`/manifests/`), Kind: faultproxy.TooMany, Times: 1})
	tgt, err := ParseTarget(p.Host+"/team/app-deps", WithTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := tgt.Lookup(context.Background(), testKey); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup = %v, want ErrNotFound", err)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("Lookup retried after %s, before the Retry-After of 1 s", took)
	}
}

// TestLostReplies: when every reply to the tag's or the stamp's PUT is
// lost, the write was done all the same: Write and WriteStamp ask the
// registry and succeed.
func TestLostReplies(t *testing.T) {
	p, host := faultyRegistry(t, nil)
	p.AddRule(faultproxy.Rule{Method: "PUT", Path: regexp.MustCompile(`/manifests/ck1-`), Kind: faultproxy.ResetDownload})
	tgt, err := ParseTarget(p.Host+"/team/app-deps", WithTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := tgt.Write(ctx, testKey, image(t, nil, 1, 1000))
	if err != nil {
		t.Fatalf("Write with the tag's replies lost: %v", err)
	}
	if err := tgt.(Pruner).WriteStamp(ctx, testKey, Stamp{Digest: rep.Digest, Published: time.Now()}); err != nil {
		t.Fatalf("WriteStamp with the stamp's replies lost: %v", err)
	}
	if p.Injected() < 2 {
		t.Fatalf("%d faults injected: the test lost no reply", p.Injected())
	}
	checkPublished(t, host, testKey, rep.Digest)
	if _, err := tgt.(Pruner).ReadStamp(ctx, testKey); err != nil {
		t.Fatal(err)
	}
}

// TestStateTokenNeverPrinted: an upload that fails prints no upload
// _state token, nor any other URL query.
func TestStateTokenNeverPrinted(t *testing.T) {
	const secret = "SECRETSTATE0123456789"
	// The in-memory registry keeps no state in its upload URLs: add one,
	// as distribution does, and take it off again on the way in.
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			q.Del("_state")
			r.URL.RawQuery = q.Encode()
			h.ServeHTTP(&stateWriter{ResponseWriter: w, secret: secret}, r)
		})
	}
	for _, kind := range []faultproxy.Kind{faultproxy.ResetUpload, faultproxy.Status5xx, faultproxy.CutStatus} {
		t.Run(kind.String(), func(t *testing.T) {
			p, _ := faultyRegistry(t, wrap)
			p.AddRule(faultproxy.Rule{Method: "PATCH", Kind: kind})
			p.AddRule(faultproxy.Rule{Method: "PUT", Path: regexp.MustCompile(`/blobs/uploads/`), Kind: kind})
			tgt, err := ParseTarget(p.Host+"/team/app-deps", WithTimeout(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			_, err = tgt.Write(ctx, testKey, image(t, nil, 1, 1000))
			if err == nil {
				t.Fatal("Write with every upload failing succeeded")
			}
			layers, lerr := image(t, nil, 1, 1000).Layers()
			if lerr != nil {
				t.Fatal(lerr)
			}
			err2 := tgt.(Prepusher).Prepush(ctx, layers)
			for _, e := range []error{err, err2} {
				t.Logf("the error: %v", e)
				if e == nil {
					t.Fatal("a push with every upload failing succeeded")
				}
				if s := e.Error(); strings.Contains(s, secret) || strings.Contains(s, "_state="+secret[:4]) {
					t.Fatalf("the error prints the upload state: %s", s)
				}
				if !strings.Contains(e.Error(), "registry "+p.Host) {
					t.Errorf("the error does not name the registry %s", p.Host)
				}
			}
		})
	}
}

type stateWriter struct {
	http.ResponseWriter
	secret string
}

func (w *stateWriter) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); strings.Contains(loc, "/blobs/uploads/") {
		u, err := url.Parse(loc)
		if err == nil {
			q := u.Query()
			q.Set("_state", w.secret)
			u.RawQuery = q.Encode()
			w.Header().Set("Location", u.String())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func TestRedactQueries(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Patch "http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=abc&digest=sha256:1": EOF`, `Patch "http://127.0.0.1:5000/v2/a/blobs/uploads/u": EOF`},
		{`PUT https://r.example/v2/a/blobs/uploads/u?_state=abc: 500`, `PUT https://r.example/v2/a/blobs/uploads/u: 500`},
		{`location /v2/a/blobs/uploads/u?_state=abc`, `location /v2/a/blobs/uploads/u?_state=REDACTED`},
		{`no url here`, `no url here`},
	} {
		if got := redactQueries(tc.in); got != tc.want {
			t.Errorf("redactQueries(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"0", 0, true}, {"7", 7 * time.Second, true}, {"-1", 0, false}, {"soon", 0, false},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzRegistryResponse answers every request of a lookup, a stamp read
// and an image read with the fuzzed status, headers and body: no panic,
// and each ends in bounded time.
func FuzzRegistryResponse(f *testing.F) {
	f.Add(200, "Docker-Content-Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\nContent-Type: application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2,"config":{"digest":"sha256:00"},"layers":[]}`))
	f.Add(429, "Retry-After: 99999999999", []byte(""))
	f.Add(503, "Retry-After: Mon, 02 Jan 2006 15:04:05 GMT", []byte(`{"errors":[{"code":"UNAVAILABLE"}]}`))
	f.Add(401, `WWW-Authenticate: Bearer realm="http://127.0.0.1:1/token",service="x"`, []byte(""))
	f.Add(206, "Content-Range: bytes 0-3/4\nContent-Length: 10", []byte("abcd"))
	f.Fuzz(func(t *testing.T, status int, headers string, body []byte) {
		if status < 100 || status > 999 {
			status = 200
		}
		h := http.Header{}
		for _, line := range strings.Split(headers, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k != "" {
				h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		rt := fuzzTransport{status: status, header: h, body: body}
		tgt, err := ParseTarget("registry.invalid/team/app-deps", WithTimeout(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		r := tgt.(*registryTarget)
		cfg := newNetConfig(50 * time.Millisecond)
		cfg.backoff, cfg.maxWait = time.Millisecond, 10*time.Millisecond
		r.rtOnce.Do(func() { r.rt = newReliableTransport(rt, cfg) })
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			if desc, err := r.Lookup(ctx, testKey); err == nil {
				if img, err := r.Image(ctx, testKey, *desc); err == nil {
					img.ConfigFile()
					img.Layers()
				}
			}
			r.ReadStamp(ctx, testKey)
			r.List(ctx)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the registry operations did not end in 10 s (status %d, headers %q)", status, headers)
		}
	})
}

type fuzzTransport struct {
	status int
	header http.Header
	body   []byte
}

func (f fuzzTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)),
		StatusCode:    f.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        f.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(f.body)),
		ContentLength: int64(len(f.body)),
		Request:       req,
	}, nil
}
