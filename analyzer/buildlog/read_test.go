package buildlog_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/cachecheck/cachecheck/analyzer/buildlog"
	"golang.org/x/mod/module"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

// logFormats maps a captured log's extension to its format.
var logFormats = map[string]Format{
	".rawjson": BuildKitJSON,
	".plain":   BuildKitPlain,
	".log":     Buildah,
	".podman":  Buildah,
	".docker":  Docker,
}

func formatSteps(steps []Step) string {
	var b strings.Builder
	for _, s := range steps {
		state := "ran"
		switch {
		case s.Error != "":
			state = "error"
		case s.Cached:
			state = "cached"
		}
		fmt.Fprintf(&b, "%s %d/%d %s %v %q", s.Stage, s.Index, s.Total, state, s.Duration.Round(time.Millisecond), s.Instruction)
		if s.Error != "" {
			fmt.Fprintf(&b, " error=%q", s.Error)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestReadBuildLogs runs every log in testdata, captured from the real
// builders (internal/builder's TestBuild -capture) or quoted from public
// reports (testdata/README.md), through Detect, which must tell the format
// its extension names, and Read, and compares the steps with NAME.golden;
// go test -update rewrites them. No file is passed over: a log of a kind
// the table does not know fails, as does a golden without its log.
func TestReadBuildLogs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	n := 0
	for _, f := range files {
		switch {
		case filepath.Base(f) == "README.md":
			continue
		case strings.HasSuffix(f, ".golden"):
			if _, err := os.Stat(strings.TrimSuffix(f, ".golden")); err != nil {
				t.Errorf("%s has no log: %v", f, err)
			}
			continue
		}
		n++
		if filepath.Ext(f) == goLogExt {
			t.Run(filepath.Base(f), func(t *testing.T) { testGoLog(t, f) })
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			format, ok := logFormats[filepath.Ext(f)]
			if !ok {
				t.Fatalf("%s: no format for the extension %q in logFormats", f, filepath.Ext(f))
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if got := Detect(data); got != format {
				t.Errorf("Detect = %v, want %v", got, format)
			}
			steps, err := Read(bytes.NewReader(data), Detect(data))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, f, formatSteps(steps))
		})
	}
	if n < 19 {
		t.Fatalf("found %d captured logs in testdata, want at least 19", n)
	}
}

// goLogExt is the extension of the go command's own -x output in testdata,
// read by GoDownloads and GoCompiles rather than Read.
const goLogExt = ".gox"

// testGoLog checks a captured go command -x log: no builder's format, and
// the modules it downloaded and the packages it compiled as NAME.golden has
// them.
func testGoLog(t *testing.T, f string) {
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := Detect(data); got != Unknown {
		t.Errorf("Detect = %v, want %v: the go command's log is no builder's", got, Unknown)
	}
	var b strings.Builder
	for _, m := range GoDownloads(string(data)) {
		fmt.Fprintf(&b, "download %s\n", m)
	}
	for _, p := range GoCompiles(string(data)) {
		fmt.Fprintf(&b, "compile %s\n", p)
	}
	checkGolden(t, f, b.String())
}

// checkGolden compares got with the golden file of log f, which -update
// rewrites.
func checkGolden(t *testing.T, f, got string) {
	t.Helper()
	golden := f + ".golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestReadBuildLogErrors(t *testing.T) {
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	cold := read("buildkit-service-cold.rawjson")
	plain := read("buildkit-service-code.plain")
	docker := read("docker-airshipctl.docker")
	lines := func(b []byte, n int) []byte { // the first n lines
		parts := bytes.SplitAfter(b, []byte("\n"))
		return bytes.Join(parts[:n], nil)
	}
	tests := []struct {
		name     string
		format   Format
		in       []byte
		wantLine int
		wantErr  string
	}{
		{"json cut mid-line", BuildKitJSON, cold[:len(lines(cold, 30))+40], 31, "unexpected end of JSON"},
		{"json cut while a step runs", BuildKitJSON, lines(cold, 42), 42, "never completes"},
		{"json garbage line", BuildKitJSON, append(lines(cold, 3), "{not json\n"...), 4, "invalid character"},
		{"json empty", BuildKitJSON, nil, 0, "not BuildKit rawjson"},
		{"json vertex without digest", BuildKitJSON, []byte(`{"vertexes":[{"name":"[1/2] RUN x"}]}` + "\n"), 1, "without a digest"},
		{"plain cut while a step runs", BuildKitPlain, lines(plain, 33), 33, "never finishes"},
		{"plain bad DONE", BuildKitPlain, []byte("#1 [1/2] RUN x\n#1 DONE soon\n"), 2, "DONE <seconds>"},
		{"plain bad number", BuildKitPlain, []byte("#x [1/2] RUN x\n"), 1, "#N text"},
		{"buildah cache before step", Buildah, []byte("--> Using cache 0123\n"), 1, "before any STEP"},
		{"buildah bad step number", Buildah, []byte("STEP 3/2: RUN x\n"), 1, "bad step number"},
		{"buildah no steps", Buildah, []byte("hello\n"), 0, "not buildah output"},
		{"docker cut while a step runs", Docker, lines(docker, 22), 21, "truncated"},
		{"docker cut after a cached step", Docker, lines(docker, 20), 18, "truncated"},
		{"docker cache outside a step", Docker, []byte(" ---> Using cache\n"), 1, "outside a step"},
		{"docker skipped step", Docker, []byte("Step 1/3 : FROM x\nStep 3/3 : RUN y\n"), 2, "follows step 1"},
		{"docker bad step number", Docker, []byte("Step 4/3 : RUN y\n"), 1, "bad step number"},
		{"docker huge step number", Docker, []byte("Step 99999999999999999999/3 : RUN y\n"), 1, "bad step number"},
		{"docker no steps", Docker, []byte("Sending build context to Docker daemon\n"), 0, "not classic docker"},
		{"docker success before steps", Docker, []byte("Successfully built 0123\n"), 1, "before any step"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.in), tc.format)
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want an *Error", err)
			}
			if le.Line != tc.wantLine || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q (line %d), want line %d and %q", err, le.Line, tc.wantLine, tc.wantErr)
			}
		})
	}
}

func FuzzReadBuildLog(f *testing.F) {
	addLogSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{BuildKitJSON, BuildKitPlain, Buildah, Docker} {
			steps, err := Read(bytes.NewReader(data), format)
			if err != nil {
				var le *Error
				if !errors.As(err, &le) {
					t.Errorf("%v reader: error %v is not an *Error", format, err)
				}
				continue
			}
			for _, s := range steps {
				if s.Index < 0 || s.Total < 0 {
					t.Errorf("%v reader: step %v has a negative position", format, s)
				}
			}
		}
	})
}

// FuzzDetect feeds arbitrary logs through Detect and Read with the format
// found, and through the readers of the go command's -v and -x output:
// they must return steps, packages, modules or an *Error, never panic. Seeds are the captured logs.
func FuzzDetect(f *testing.F) {
	addLogSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		format := Detect(data)
		if format != Unknown {
			if _, err := format.MarshalText(); err != nil {
				t.Fatalf("Detect = %v, which does not marshal: %v", format, err)
			}
			steps, err := Read(bytes.NewReader(data), format)
			var le *Error
			if err != nil && !errors.As(err, &le) {
				t.Errorf("%v reader: error %v is not an *Error", format, err)
			}
			for _, s := range steps {
				if s.Index < 0 || s.Total < 0 {
					t.Errorf("%v reader: step %v has a negative position", format, s)
				}
			}
		}
		for _, format := range []Format{BuildKitJSON, BuildKitPlain, Buildah, Docker} {
			pkgs, ok := CompiledPackages(data, format)
			if ok && pkgs == nil {
				t.Errorf("CompiledPackages(%v) = nil, true", format)
			}
			for _, p := range pkgs {
				if p == "" || strings.ContainsAny(p, " \t\n#") {
					t.Errorf("CompiledPackages(%v): %q is not an import path", format, p)
				}
			}
		}
		mods := GoDownloads(string(data))
		if mods == nil {
			t.Errorf("GoDownloads = nil")
		}
		for _, m := range mods {
			if err := module.Check(m.Path, m.Version); err != nil {
				t.Errorf("GoDownloads: %v", err)
			}
		}
		pkgs := GoCompiles(string(data))
		if pkgs == nil {
			t.Errorf("GoCompiles = nil")
		}
		for _, p := range pkgs {
			if p == "" || p == "main" || strings.ContainsAny(p, " \t\n") {
				t.Errorf("GoCompiles: %q is not an import path", p)
			}
		}
	})
}

// addLogSeeds adds the captured logs of testdata to f's seed corpus.
func addLogSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, file := range files {
		if _, ok := logFormats[filepath.Ext(file)]; !ok && filepath.Ext(file) != goLogExt {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// TestBuildKitOrderAndDuplicates checks that BuildKit's steps, reported as
// resolved (cached ones in no fixed order, a COPY sometimes as two vertices,
// one run to checksum its content and one cached), come back once each, in
// Dockerfile order.
func TestBuildKitOrderAndDuplicates(t *testing.T) {
	log := `#6 [build 4/5] RUN go mod download
#6 CACHED

#7 [build 2/5] WORKDIR /src
#7 CACHED

#8 [stage-1 1/1] COPY --from=build /out/api /api
#8 DONE 0.0s

#9 [build 3/5] COPY go.mod go.sum ./
#9 DONE 0.2s

#10 [build 5/5] COPY . .
#10 DONE 0.1s

#11 [build 3/5] COPY go.mod go.sum ./
#11 CACHED
`
	steps, err := Read(strings.NewReader(log), BuildKitPlain)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, fmt.Sprintf("%s cached=%v", s.Instruction, s.Cached))
	}
	want := []string{"WORKDIR /src cached=true", "COPY go.mod go.sum ./ cached=true", "RUN go mod download cached=true", "COPY . . cached=false", "COPY --from=build /out/api /api cached=false"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("steps:\n%q\nwant:\n%q", got, want)
	}
}
