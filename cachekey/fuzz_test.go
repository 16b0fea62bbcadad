package cachekey

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzParseSum checks that ParseSum never panics, and that whatever it
// accepts it accepts again in canonical form with the same entries.
func FuzzParseSum(f *testing.F) {
	for _, name := range realFixtures {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "real", name, "go.sum"))
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 4096 {
			data = data[:4096]
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseSum("go.sum", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "go.sum:") {
				t.Fatalf("error %q does not start with go.sum:LINE", err)
			}
			return
		}
		var b strings.Builder
		for _, e := range entries {
			b.WriteString(e.String() + "\n")
		}
		again, err := ParseSum("go.sum", []byte(b.String()))
		if err != nil {
			t.Fatalf("canonical form rejected: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("canonical form has %d entries, want %d", len(again), len(entries))
		}
	})
}

// FuzzCompute checks that Compute never panics on any go.mod and go.sum,
// and that a key it computes is stable.
func FuzzCompute(f *testing.F) {
	f.Add([]byte("module x\n\ngo 1.22\n\nrequire a.com/b v1.0.0\n"), []byte("a.com/b v1.0.0 "+hashA+"\n"))
	f.Add([]byte("module x\nreplace a.com/b => ./b\n"), []byte(""))
	f.Add([]byte("module x\ntoolchain go1.23.1\nexclude a.com/b v1.0.0\nretract v1.0.0\n"), []byte("\r\n"))
	for _, name := range []string{"cobra", "gin"} {
		mod, err := os.ReadFile(filepath.Join("..", "testdata", "real", name, "go.mod"))
		if err != nil {
			f.Fatal(err)
		}
		sum, err := os.ReadFile(filepath.Join("..", "testdata", "real", name, "go.sum"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(mod, sum)
	}
	f.Fuzz(func(t *testing.T, mod, sum []byte) {
		fsys := fstest.MapFS{
			"go.mod":   {Data: mod},
			"go.sum":   {Data: sum},
			"b/go.mod": {Data: []byte("module a.com/b\n")},
		}
		res, err := Compute(fsys, ".")
		if err != nil {
			return
		}
		again, err := Compute(fsys, ".")
		if err != nil || again.Key != res.Key {
			t.Fatalf("second Compute = %v, %v; want %s", again.Key, err, res.Key)
		}
		if _, err := Parse(res.Key.String()); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkComputeVault computes the key of the largest fixture, vault's
// go.mod and go.sum (897 modules, 3193 go.sum lines), read from disk.
func BenchmarkComputeVault(b *testing.B) {
	dir := filepath.Join("..", "testdata", "real", "vault")
	for b.Loop() {
		if _, err := ComputeDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkComputePrometheus is the same for prometheus (335 modules).
func BenchmarkComputePrometheus(b *testing.B) {
	dir := filepath.Join("..", "testdata", "real", "prometheus")
	for b.Loop() {
		if _, err := ComputeDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}
