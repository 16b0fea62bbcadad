package buildlog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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
	docker := []byte(`Step 7/12 : RUN go mod download
 ---> Running in 5b1e0c6f2a41
go: downloading github.com/google/uuid v1.6.0
Removing intermediate container 5b1e0c6f2a41
 ---> 8c1d2e3f4a5b
Step 10/12 : RUN CGO_ENABLED=0 go build -v -trimpath -o /out/api ./cmd/api
 ---> Running in 9f8e7d6c5b4a
internal/abi
github.com/google/uuid
# example.com/service/cmd/api
warning: something
 ---> Removed intermediate container 9f8e7d6c5b4a
 ---> 1a2b3c4d5e6f
Step 11/12 : FROM scratch
`)
	// The docker command prints a step's stderr in red; go build -v
	// writes there.
	dockerColor := []byte("Step 10/12 : RUN go build -v ./cmd/api\n ---> Running in 9f8e7d6c5b4a\n\x1b[91minternal/abi\ngithub.com/google/uuid\n\x1b[0mRemoving intermediate container 9f8e7d6c5b4a\n ---> 1a2b3c4d5e6f\n")
	dockerCached := []byte("Step 10/12 : RUN go build -v ./cmd/api\n ---> Using cache\n ---> 1a2b3c4d5e6f\nSuccessfully built 1a2b3c4d5e6f\n")
	plain := []byte(`#8 [build 4/7] RUN go mod download
#8 sha256:0f1e2d3c4b5a
#8 0.412 go: downloading github.com/google/uuid v1.6.0
#8 DONE 1.2s

#10 [build 7/7] RUN CGO_ENABLED=0 go build -v -trimpath -o /out/api ./cmd/api
#10 0.301 internal/abi
#11 [stage-1 1/1] COPY --from=build /out/api /api
#10 2.115 github.com/google/uuid
#10 DONE 9.0s
#11 DONE 0.1s
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
		{"docker", Docker, docker, []string{"internal/abi", "github.com/google/uuid"}, true},
		{"docker, step cached", Docker, dockerCached, []string{}, true},
		{"docker, stderr in color", Docker, dockerColor, []string{"internal/abi", "github.com/google/uuid"}, true},
		{"docker without -v", Docker, docker[:bytes.Index(docker, []byte("Step 10/12"))], nil, false},
		{"buildkit plain, logs interleaved", BuildKitPlain, plain, []string{"internal/abi", "github.com/google/uuid"}, true},
		{"buildah output read as docker's", Docker, buildah, nil, false},
		{"no builder's format", Unknown, buildah, nil, false},
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

func TestGoDownloads(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"zip fetched", "# get http://127.0.0.1:8080/golang.org/x/mod/@v/v0.43.0.zip\n# get http://127.0.0.1:8080/golang.org/x/mod/@v/v0.43.0.zip: 200 OK (0.006s)\n", []string{"golang.org/x/mod@v0.43.0"}},
		{"request without its answer", "# get http://127.0.0.1:8080/golang.org/x/mod/@v/v0.43.0.zip\n", []string{}},
		{"not found, then the next proxy", "# get http://127.0.0.1:8080/a/golang.org/x/mod/@v/v0.43.0.zip: 404 Not Found (0.001s)\n# get http://127.0.0.1:8081/golang.org/x/mod/@v/v0.43.0.zip: 200 OK (0.004s)\n", []string{"golang.org/x/mod@v0.43.0"}},
		{"error", `# get https://proxy.example.com/golang.org/x/mod/@v/v0.43.0.zip: Get "https://proxy.example.com/golang.org/x/mod/@v/v0.43.0.zip": dial tcp: connection refused` + "\n", []string{}},
		{"mod and info files", "# get https://proxy.example.com/golang.org/x/mod/@v/v0.43.0.mod: 200 OK (0.1s)\n# get https://proxy.example.com/golang.org/x/mod/@v/v0.43.0.info: 200 OK (0.1s)\n# get https://proxy.example.com/golang.org/x/mod/@v/list: 200 OK (0.1s)\n", []string{}},
		{"escaped path and version", "# get https://proxy.example.com/github.com/!burnt!sushi/toml/@v/v1.4.1-0.20240526193622-a339e1f7089c.zip: 200 OK (0.1s)\n", []string{"github.com/BurntSushi/toml@v1.4.1-0.20240526193622-a339e1f7089c"}},
		{"proxy with a path", "# get https://artifacts.example.com/api/go/remote/gopkg.in/yaml.v3/@v/v3.0.1.zip: 200 OK (0.1s)\n", []string{"gopkg.in/yaml.v3@v3.0.1"}},
		{"incompatible", "# get https://proxy.example.com/github.com/docker/docker/@v/v28.0.0+incompatible.zip: 200 OK (0.1s)\n", []string{"github.com/docker/docker@v28.0.0+incompatible"}},
		{"twice", "# get http://p/golang.org/x/mod/@v/v0.43.0.zip: 200 OK (0.1s)\n# get http://p/golang.org/x/mod/@v/v0.43.0.zip: 200 OK (0.1s)\n", []string{"golang.org/x/mod@v0.43.0"}},
		{"in a builder's step log", "#12 1.234 # get https://proxy.example.com/golang.org/x/mod/@v/v0.43.0.zip: 200 OK (0.1s)\n", []string{}},
		{"sum database", "# get https://sum.golang.org/lookup/golang.org/x/mod@v0.43.0: 200 OK (0.1s)\n", []string{}},
		{"version does not match the path", "# get https://proxy.example.com/gopkg.in/yaml.v3/@v/v2.0.0.zip: 200 OK (0.1s)\n", []string{}},
		{"direct from git", "# cd .; git ls-remote -q origin\n", []string{}},
		{"empty", "", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := []string{}
			for _, m := range GoDownloads(tc.text) {
				got = append(got, m.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("GoDownloads = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGoCompiles(t *testing.T) {
	const lib = "/usr/local/go/pkg/tool/linux_amd64/compile -o $WORK/b002/_pkg_.a -trimpath \"$WORK/b002=>\" -p example.com/lib -lang=go1.26 -complete -pack ./lib.go\n"
	const main = "mkdir -p $WORK/b001/\n/usr/local/go/pkg/tool/linux_amd64/compile -o $WORK/b001/_pkg_.a -trimpath \"$WORK/b001=>\" -p main -lang=go1.26 -complete -pack ./main.go\n"
	const link = "cat >/tmp/go-build1/b001/importcfg.link << 'EOF' # internal\npackagefile example.com/cmd/app=/tmp/go-build1/b001/_pkg_.a\npackagefile example.com/lib=/tmp/go-build1/b002/_pkg_.a\npackagefile fmt=/root/.cache/go-build/a2/a2-d\nEOF\n"
	tests := []struct {
		name, text string
		want       []string
	}{
		{"library and main", "WORK=/tmp/go-build1\n" + lib + main + link, []string{"example.com/lib", "example.com/cmd/app"}},
		{"main without a link", "WORK=/tmp/go-build1\n" + lib + main, []string{"example.com/lib"}},
		{"main of another go command", "WORK=/tmp/go-build1\n" + link + "WORK=/tmp/go-build2\n" + main, []string{}},
		{"environment before the command", "WORK=/tmp/w\nTERM='dumb' GOROOT='/usr/local/go' /usr/local/go/pkg/tool/linux_amd64/compile -o $WORK/b009/_pkg_.a -p runtime/cgo -std ./cgo.go\n", []string{"runtime/cgo"}},
		{"assembler and cgo are no compiles", "/usr/local/go/pkg/tool/linux_amd64/asm -p runtime/cgo -o $WORK/b080/symabis ./asm_amd64.s\nTERM='dumb' /usr/local/go/pkg/tool/linux_amd64/cgo -objdir $WORK/b080/ -importpath runtime/cgo\n", []string{}},
		{"compiled twice", "WORK=/tmp/w\n" + lib + lib, []string{"example.com/lib"}},
		{"all cached", "WORK=/tmp/go-build1\n", []string{}},
		{"go build -v", "example.com/lib\nexample.com/cmd/app\n", []string{}},
		{"empty", "", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := GoCompiles(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("GoCompiles = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestModuleDownloads(t *testing.T) {
	const zip = "# get https://proxy.example.com/github.com/google/uuid/@v/v1.6.0.zip: 200 OK (0.1s)\n"
	bk := rawjson(t, map[string]string{
		"sha256:a": "[build 4/7] RUN go mod download -x",
		"sha256:b": "[build 7/7] RUN go build -v -o /out/api ./cmd/api",
		"sha256:c": "[build 2/7] COPY go.mod go.sum ./",
	}, [][2]string{
		{"sha256:a", "# get https://proxy.example.com/github.com/google/uuid/@v/v1.6.0.zip\n# get https://proxy.example.com/github.com/google/uu"},
		{"sha256:a", "id/@v/v1.6.0.zip: 200 OK (0.1s)\n"},
		{"sha256:b", "go: downloading golang.org/x/sync v0.14.0\ngo: downloading github.com/google/uuid v1.6.0\nexample.com/service/cmd/api\n"},
		{"sha256:c", "go: downloading not/a/run v1.0.0\n"},
	})
	buildah := []byte("[1/2] STEP 5/8: RUN go mod download -x\n" + zip + "--> 1a2b3c\n[1/2] STEP 6/8: COPY . .\ngo: downloading not/a/run v1.0.0\n--> 4d5e6f\n[1/2] STEP 8/8: RUN go build .\ngo: downloading golang.org/x/sync v0.14.0\n--> 7a8b9c\n")
	tests := []struct {
		name   string
		format Format
		log    []byte
		want   []string
		ok     bool
	}{
		{"buildkit: -x zip, then go build's lines", BuildKitJSON, bk, []string{"github.com/google/uuid@v1.6.0", "golang.org/x/sync@v0.14.0"}, true},
		{"buildah", Buildah, buildah, []string{"github.com/google/uuid@v1.6.0", "golang.org/x/sync@v0.14.0"}, true},
		{"buildkit, nothing run", BuildKitJSON, rawjson(t, map[string]string{"sha256:a": "[build 4/7] RUN go mod download"}, nil), []string{}, true},
		{"docker", Docker, []byte("Step 5/8 : RUN go mod download -x\n ---> Running in 5b1e0c6f2a41\n" + zip + "Removing intermediate container 5b1e0c6f2a41\n ---> 8c1d2e3f4a5b\nStep 6/8 : COPY . .\ngo: downloading not/a/run v1.0.0\n ---> 4d5e6f\nStep 8/8 : RUN go build .\n ---> Running in 9f8e7d6c5b4a\ngo: downloading golang.org/x/sync v0.14.0\n ---> 7a8b9c\n"), []string{"github.com/google/uuid@v1.6.0", "golang.org/x/sync@v0.14.0"}, true},
		{"buildkit plain", BuildKitPlain, []byte("#8 [build 4/7] RUN go mod download -x\n#8 0.2 " + zip + "#8 DONE 1.0s\n#9 [build 5/7] COPY . .\n#9 0.1 go: downloading not/a/run v1.0.0\n#9 DONE 0.1s\n#10 [build 7/7] RUN go build .\n#10 1.5 go: downloading golang.org/x/sync v0.14.0\n#10 DONE 3.0s\n"), []string{"github.com/google/uuid@v1.6.0", "golang.org/x/sync@v0.14.0"}, true},
		{"no builder's format", Unknown, buildah, []string{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text, ok := RunOutput(tc.log, tc.format)
			got := []string{}
			for _, m := range ModuleDownloads(text) {
				got = append(got, m.String())
			}
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Errorf("ModuleDownloads(RunOutput) = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	for _, line := range []string{"go: downloading", "go: downloading example.com/m", "go: downloading example.com/m notaversion", "  go: downloading gopkg.in/yaml.v3 v2.0.0"} {
		if got := ModuleDownloads(line + "\n"); len(got) != 0 {
			t.Errorf("ModuleDownloads(%q) = %v, want none", line, got)
		}
	}
}

func TestOfflineErrors(t *testing.T) {
	// As go 1.26 prints them with GOPROXY=off and an empty module cache:
	// go mod download names the module, go build the import.
	text := "go: github.com/beorn7/perks@v1.0.1: module lookup disabled by GOPROXY=off\n" +
		"go: downloading github.com/google/uuid v1.6.0\n" +
		"cmd/m.go:2:8: module lookup disabled by GOPROXY=off\n" +
		"go: github.com/beorn7/perks@v1.0.1: module lookup disabled by GOPROXY=off\n"
	want := []string{"go: github.com/beorn7/perks@v1.0.1: module lookup disabled by GOPROXY=off", "cmd/m.go:2:8: module lookup disabled by GOPROXY=off"}
	if got := OfflineErrors(text); !slices.Equal(got, want) {
		t.Errorf("OfflineErrors = %q, want %q", got, want)
	}
	if got := OfflineErrors("go: downloading github.com/google/uuid v1.6.0\n"); len(got) != 0 {
		t.Errorf("OfflineErrors of a download = %q, want none", got)
	}
}

// TestModuleDownloadsCaptured: on the go command's captured -x output,
// where go build prints both "go: downloading" and the "# get" of each
// zip, every module counts once, as GoDownloads lists them.
func TestModuleDownloadsCaptured(t *testing.T) {
	for _, name := range []string{"gobuild-cold.gox", "gomod-download-fallback.gox", "gobuild-change.gox"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		got, want := ModuleDownloads(string(data)), GoDownloads(string(data))
		if !slices.Equal(got, want) {
			t.Errorf("%s: ModuleDownloads = %v, GoDownloads = %v", name, got, want)
		}
		if name == "gobuild-cold.gox" && len(got) != 3 {
			t.Errorf("%s: %d modules, want the 3 the golden lists", name, len(got))
		}
	}
}
