package buildlog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// rawjson builds buildctl --progress=rawjson output: the vertices, then
// each log chunk as its own status line, as buildctl streams them.
func rawjson(t *testing.T, vertices map[string]string, logs [][2]string) []byte {
	t.Helper()
	type vertex struct {
		Digest string `json:"digest"`
		Name   string `json:"name"`
	}
	type log struct {
		Vertex string `json:"vertex"`
		Stream int    `json:"stream"`
		Data   []byte `json:"data"`
	}
	var b strings.Builder
	for d, name := range vertices {
		line, _ := json.Marshal(map[string]any{"vertexes": []vertex{{d, name}}})
		b.Write(line)
		b.WriteString("\n")
	}
	for _, l := range logs {
		line, _ := json.Marshal(map[string]any{"logs": []log{{l[0], 2, []byte(l[1])}}})
		b.Write(line)
		b.WriteString("\n")
	}
	return []byte(b.String())
}

func TestCompiledPackages(t *testing.T) {
	bk := rawjson(t, map[string]string{
		"sha256:a": "[build 4/7] RUN go mod download",
		"sha256:b": "[build 7/7] RUN CGO_ENABLED=0 go build -v -trimpath -o /out/api ./cmd/api",
	}, [][2]string{
		{"sha256:a", "go: downloading github.com/google/uuid v1.6.0\n"},
		{"sha256:b", "example.com/service/internal/gr"}, // a chunk ends mid-line
		{"sha256:b", "eet\nexample.com/service/cmd/api\n"},
	})
	noV := rawjson(t, map[string]string{"sha256:b": "[build 7/7] RUN go build -trimpath ./cmd/api"}, [][2]string{{"sha256:b", "whatever\n"}})
	cached := rawjson(t, map[string]string{"sha256:b": "[build 7/7] RUN go build -v ./cmd/api"}, nil)
	buildah := []byte(`[1/2] STEP 7/8: RUN go mod download
go: downloading github.com/google/uuid v1.6.0
--> 1a2b3c
[1/2] STEP 8/8: RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 go build -v -trimpath -o /out/api ./cmd/api
internal/abi
github.com/google/uuid
# example.com/service/cmd/api
warning: something
--> 4d5e6f
[2/2] STEP 1/3: FROM scratch
`)
	podman, err := ParseFormat("podman")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		format Format
		out    []byte
		want   []string
		ok     bool
	}{
		{"buildkit", BuildKitJSON, bk, []string{"example.com/service/internal/greet", "example.com/service/cmd/api"}, true},
		{"buildkit without -v", BuildKitJSON, noV, nil, false},
		{"buildkit, step cached", BuildKitJSON, cached, []string{}, true},
		{"buildah", Buildah, buildah, []string{"internal/abi", "github.com/google/uuid"}, true},
		{"podman reads as buildah", podman, buildah, []string{"internal/abi", "github.com/google/uuid"}, true},
		{"docker: not read", Docker, buildah, nil, false},
		{"not a log", BuildKitJSON, []byte("garbage\n{not json\n"), nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := CompiledPackages(tc.out, tc.format)
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Errorf("CompiledPackages = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestIsGoBuildV(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"RUN go build -v ./...", true},
		{"RUN CGO_ENABLED=0 go build -trimpath -v -o /out/api ./cmd/api", true},
		{"RUN --mount=type=cache,target=/root/.cache/go-build go install -v ./cmd/...", true},
		{"RUN go build -v=true .", true},
		{"RUN go build -trimpath ./cmd/api", false},
		{"RUN go vet -v ./... && go build .", false},
		{"RUN go mod download -x", false},
		{"COPY go build -v", false},
	}
	for _, tc := range tests {
		if got := isGoBuildV(tc.in); got != tc.want {
			t.Errorf("isGoBuildV(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
