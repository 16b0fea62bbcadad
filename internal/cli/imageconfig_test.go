package cli

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestAnalyzeResolveBases runs analyze on a Dockerfile whose builder image,
// in a local registry, sets GOPATH=/gopath: with --resolve-bases the cache
// mount finding names /gopath/pkg/mod; without it, /root/go/pkg/mod is
// assumed and the finding says so; an image that is not there is noted on
// stderr and assumed.
func TestAnalyzeResolveBases(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := mutate.Config(empty.Image, v1.Config{Env: []string{"PATH=/usr/local/go/bin:/usr/bin", "GOPATH=/gopath"}})
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/ci/go-builder:7"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, base string
		args       []string
		want       string
		stderr     string
	}{
		{"read", ref, []string{"--resolve-bases", "--insecure"}, "without a cache mount on the module cache /gopath/pkg/mod\"", ""},
		{"not asked", ref, nil, "without a cache mount on the module cache /root/go/pkg/mod (GOMODCACHE assumed: the config of " + ref + " was not read)", ""},
		{"missing", host + "/ci/none:1", []string{"--resolve-bases", "--insecure", "--timeout", "5s"}, "/root/go/pkg/mod (GOMODCACHE assumed", "cachecheck: note: reading image " + host + "/ci/none:1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			df := "# syntax=docker/dockerfile:1\nFROM " + tc.base + "\nCOPY go.mod go.sum ./\nRUN go mod download\n"
			for file, data := range map[string]string{"Dockerfile": df, "go.mod": "module example.com/app\n\ngo 1.22\n", "go.sum": ""} {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), append(append([]string{"analyze", "--format", "json"}, tc.args...), dir), nil, &stdout, &stderr)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.want) {
				t.Errorf("stdout does not say %q:\n%s", tc.want, stdout.String())
			}
			if tc.stderr == "" && stderr.Len() > 0 || !strings.HasPrefix(stderr.String(), tc.stderr) {
				t.Errorf("stderr = %q, want it to start with %q", stderr.String(), tc.stderr)
			}
		})
	}
}
