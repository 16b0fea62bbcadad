package cachekey

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

const (
	hashA = "h1:6W6MbVUrnMb8PEhjkqwsVLY7ryuzRfFHF4mQd7L94ag="
	hashB = "h1:McXfInJRrz4CZXVZOBLb0bTZqETkiAhM9Iw0y3An2Bg="
)

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// workspace is a go.work over two modules, one of which replaces a module by
// a local directory.
func workspace() map[string]string {
	return map[string]string{
		"go.work":       "go 1.23\n\nuse (\n\t./api\n\t./worker\n)\n",
		"go.work.sum":   "golang.org/x/sys v0.1.0 " + hashA + "\n",
		"api/go.mod":    "module example.com/api\n\ngo 1.23\n\nrequire golang.org/x/text v0.14.0\n",
		"api/go.sum":    "golang.org/x/text v0.14.0 " + hashA + "\ngolang.org/x/text v0.14.0/go.mod " + hashB + "\n",
		"worker/go.mod": "module example.com/worker\n\ngo 1.23\n\nrequire example.com/sdk v1.0.0\n\nreplace example.com/sdk => ../sdk\n",
		"sdk/go.mod":    "module example.com/sdk\n\ngo 1.21\n\nrequire golang.org/x/sys v0.1.0\n",
	}
}

func TestWorkspace(t *testing.T) {
	want, err := Compute(mapFS(workspace()), ".")
	if err != nil {
		t.Fatal(err)
	}
	if !want.Workspace {
		t.Fatal("Workspace = false for a go.work")
	}
	wantInputs := []string{
		"schema 1",
		"vendor false",
		"module ./api go 1.23",
		"module ./api path example.com/api",
		"module ./api require golang.org/x/text v0.14.0",
		"module ./worker go 1.23",
		"module ./worker path example.com/worker",
		"module ./worker replace example.com/sdk => ./sdk",
		"module ./worker require example.com/sdk v1.0.0",
		"work go 1.23",
		"work use ./api",
		"work use ./worker",
		"replaced ./sdk go 1.21",
		"replaced ./sdk path example.com/sdk",
		"replaced ./sdk require golang.org/x/sys v0.1.0",
		"sum golang.org/x/sys v0.1.0 " + hashA,
		"sum golang.org/x/text v0.14.0 " + hashA,
		"sum golang.org/x/text v0.14.0/go.mod " + hashB,
	}
	if !slices.Equal(want.Inputs, wantInputs) {
		t.Fatalf("inputs:\n%s\nwant:\n%s", strings.Join(want.Inputs, "\n"), strings.Join(wantInputs, "\n"))
	}
	for _, tc := range []struct {
		name    string
		edit    func(files map[string]string)
		changes []string // nil: the key must not change
	}{
		{"use order", func(f map[string]string) { f["go.work"] = "go 1.23\nuse ./worker\nuse ./api\n" }, nil},
		{"go.work comment", func(f map[string]string) { f["go.work"] = "// The workspace.\n" + f["go.work"] }, nil},
		{"go.work go", func(f map[string]string) { f["go.work"] = strings.Replace(f["go.work"], "go 1.23", "go 1.24", 1) },
			[]string{"go.work: go 1.23 -> 1.24"}},
		{"use added", func(f map[string]string) {
			f["go.work"] = strings.Replace(f["go.work"], ")", "\t./sdk\n)", 1)
		}, []string{"./sdk: +go 1.21", "./sdk: +module example.com/sdk", "./sdk: +golang.org/x/sys v0.1.0", "go.work: +use ./sdk"}},
		{"module requirement", func(f map[string]string) {
			f["api/go.mod"] = strings.Replace(f["api/go.mod"], "v0.14.0", "v0.15.0", 1)
		}, []string{"./api: golang.org/x/text v0.14.0 -> v0.15.0"}},
		{"replacement go.mod", func(f map[string]string) {
			f["sdk/go.mod"] = strings.Replace(f["sdk/go.mod"], "v0.1.0", "v0.2.0", 1)
		}, []string{"replace ./sdk: go.mod changed"}},
		{"go.work.sum", func(f map[string]string) { delete(f, "go.work.sum") }, []string{"go.sum: +0 -1 entries"}},
		{"go.work replace", func(f map[string]string) {
			f["go.work"] += "replace golang.org/x/text v0.14.0 => golang.org/x/text v0.13.0\n"
		}, []string{"go.work: +replace golang.org/x/text v0.14.0 => golang.org/x/text v0.13.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := workspace()
			tc.edit(files)
			got, err := Compute(mapFS(files), ".")
			if err != nil {
				t.Fatal(err)
			}
			if tc.changes == nil {
				if got.Key != want.Key {
					t.Fatalf("key changed: %q", Diff(want, got))
				}
				return
			}
			if got.Key == want.Key {
				t.Fatal("key did not change")
			}
			if d := Diff(want, got); !slices.Equal(d, tc.changes) {
				t.Fatalf("Diff = %q, want %q", d, tc.changes)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	old := map[string]string{
		"go.mod":     "module example.com/app\ngo 1.22\nrequire (\n\tgithub.com/x/y v1.2.0\n\tgithub.com/c/d v0.1.0\n)\nreplace example.com/sdk => ./sdk\n",
		"go.sum":     "github.com/x/y v1.2.0 " + hashA + "\ngithub.com/c/d v0.1.0 " + hashA + "\n",
		"sdk/go.mod": "module example.com/sdk\n",
	}
	new := map[string]string{
		"go.mod":             "module example.com/app\ngo 1.23\ntoolchain go1.23.4\nrequire (\n\tgithub.com/x/y v1.3.0\n\tgithub.com/a/b v1.0.0\n)\nexclude github.com/x/y v1.2.5\nreplace example.com/sdk => ./sdk\n",
		"go.sum":             "github.com/x/y v1.3.0 " + hashA + "\ngithub.com/a/b v1.0.0 " + hashA + "\ngithub.com/a/b v1.0.0/go.mod " + hashB + "\n",
		"sdk/go.mod":         "module example.com/sdk\nrequire golang.org/x/sys v0.1.0\n",
		"vendor/modules.txt": "",
	}
	a, err := Compute(mapFS(old), ".")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compute(mapFS(new), ".")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"vendor false -> true",
		"+exclude github.com/x/y v1.2.5",
		"go 1.22 -> 1.23",
		"+github.com/a/b v1.0.0",
		"-github.com/c/d v0.1.0",
		"github.com/x/y v1.2.0 -> v1.3.0",
		"+toolchain go1.23.4",
		"replace ./sdk: go.mod changed",
		"go.sum: +3 -2 entries",
	}
	if got := Diff(a, b); !slices.Equal(got, want) {
		t.Fatalf("Diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := Diff(a, a); got != nil {
		t.Fatalf("Diff of equal keys = %q, want nil", got)
	}
}

func TestComputeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		dir   string
		want  string
	}{
		{"no directory", map[string]string{"x/go.mod": "module x\n"}, "y", "directory y does not exist"},
		{"no go.mod", map[string]string{"x/main.go": "package main\n"}, "x", "no go.mod or go.work in x: not a Go module; run 'go mod init' there, or name the module's directory"},
		{"malformed go.mod", map[string]string{"go.mod": "module x\n\ngo 1.22\nrequire (\n\tbad\n)\n"}, ".", "go.mod:5:2: usage: require module/path v1.2.3"},
		{"unknown directive", map[string]string{"go.mod": "module x\nfrobnicate\n"}, ".", "go.mod:2: unknown directive: frobnicate"},
		{"malformed go.sum", map[string]string{"go.mod": "module x\nrequire a.com/b v1.0.0\n", "go.sum": "a.com/b v1.0.0 " + hashA + "\na.com/b v1.0.0\n"}, ".", "go.sum:2: want 3 fields (module path, version, hash), have 2"},
		{"no go.sum", map[string]string{"go.mod": "module x\nrequire a.com/b v1.0.0\n"}, ".", "go.sum: missing, but go.mod has requirements: run 'go mod tidy' to create it"},
		{"replace dir missing", map[string]string{"go.mod": "module x\n\nreplace a.com/b => ../b\n"}, ".", "go.mod:3: replace a.com/b => ../b: directory ../b lies outside the file system the key is computed in"},
		{"replace dir missing in fs", map[string]string{"m/go.mod": "module x\n\nreplace a.com/b => ../b\n"}, "m", "m/go.mod:3: replace a.com/b => ../b: directory b does not exist"},
		{"replace go.mod missing", map[string]string{"m/go.mod": "module x\n\nreplace a.com/b => ./b\n", "m/b/b.go": "package b\n"}, "m", "m/go.mod:3: replace a.com/b => ./b: m/b/go.mod does not exist; a replacement directory needs a go.mod"},
		{"replacement go.mod malformed", map[string]string{"go.mod": "module x\nreplace a.com/b => ./b\n", "b/go.mod": "module b\nrequire (\n"}, ".", "b/go.mod:3: syntax error (unterminated block started at b/go.mod:2:1)"},
		{"use missing", map[string]string{"go.work": "go 1.23\nuse ./a\nuse ./b\n", "a/go.mod": "module a\n"}, ".", "go.work:3: use ./b: b/go.mod does not exist"},
		{"no use", map[string]string{"go.work": "go 1.23\n"}, ".", "go.work: no use directives: add the workspace's modules with 'go work use DIR'"},
		{"malformed go.work", map[string]string{"go.work": "go 1.23\nuse\n"}, ".", "go.work:2: usage: use local/dir"},
		{"empty go.mod", map[string]string{"m/go.mod": ""}, "m", "m/go.mod: no module line; add one, as with 'go mod edit -module=example.com/m m/go.mod'"},
		{"go.mod without module", map[string]string{"go.mod": "go 1.22\n"}, ".", "go.mod: no module line"},
		{"malformed module path", map[string]string{"go.mod": "go 1.22\nmodule \"a b\"\n"}, ".", `go.mod:2: module "a b": invalid char ' '; fix the module line`},
		{"used go.mod without module", map[string]string{"go.work": "go 1.23\nuse ./a\n", "a/go.mod": "go 1.22\n"}, ".", "a/go.mod: no module line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(mapFS(tc.files), tc.dir)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant prefix %q", err, tc.want)
			}
		})
	}
}

func TestNoRequirementsNoGoSum(t *testing.T) {
	res, err := Compute(mapFS(map[string]string{"go.mod": "module x\n\ngo 1.22\n"}), ".")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"schema 1", "vendor false", "module . go 1.22", "module . path x"}
	if !slices.Equal(res.Inputs, want) {
		t.Fatalf("inputs = %q, want %q", res.Inputs, want)
	}
}
