package faultproxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKinds: every kind breaks a GET and a PUT through the proxy the way
// it says, and is counted; a request no rule matches goes through intact.
func TestKinds(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 10_000)
	var puts int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts++
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Write(payload)
	}))
	defer up.Close()
	p, err := New(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Hold = 2 * time.Second
	// No keep-alive: net/http sends a GET again, by itself, when a reused
	// connection breaks before any answer.
	client := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() error {
		resp, err := client.Get(p.URL + "/blob")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, payload) {
			return io.ErrUnexpectedEOF
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("GET with no fault: %v", err)
	}
	for i, k := range Kinds {
		p.Clear()
		p.AddRule(Rule{Kind: k, Times: 1})
		if err := get(); err == nil {
			t.Errorf("GET with fault %s succeeded", k)
		}
		if err := get(); err != nil {
			t.Errorf("GET after the one fault %s: %v", k, err)
		}
		if got := p.Injected(); got != i+1 {
			t.Errorf("after %s: %d faults counted, want %d", k, got, i+1)
		}
	}
	// A rule's Skip and Times; Path and Method.
	p.Clear()
	p.AddRule(Rule{Method: http.MethodPut, Path: regexp.MustCompile(`^/tags/`), Kind: ResetDownload, Skip: 1, Times: 1})
	for i, want := range []bool{true, false, true} {
		req, _ := http.NewRequest(http.MethodPut, p.URL+"/tags/x", strings.NewReader("m"))
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		if ok := err == nil && resp.StatusCode == http.StatusCreated; ok != want {
			t.Errorf("PUT %d: ok=%v (%v), want %v", i, ok, err, want)
		}
	}
	if puts != 3 {
		t.Errorf("upstream saw %d PUTs, want 3 (ResetDownload forwards)", puts)
	}
	t.Logf("injected: %s", p.Counts())
}
