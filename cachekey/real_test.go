package cachekey

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/mod/modfile"
)

// realFixtures are the go.mod and go.sum files of public projects, listed in
// ../testdata/real/README.md.
var realFixtures = []string{"cobra", "gin", "go-containerregistry", "hugo", "prometheus", "vault"}

// loadFixture reads every file below dir into a map file system.
func loadFixture(t testing.TB, dir string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fsys[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

func clone(fsys fstest.MapFS) fstest.MapFS {
	c := fstest.MapFS{}
	for k, v := range fsys {
		c[k] = &fstest.MapFile{Data: slices.Clone(v.Data), Mode: v.Mode}
	}
	return c
}

type edit struct {
	name  string
	apply func(t *testing.T, fsys fstest.MapFS)
}

// editGoMod parses go.mod, lets f change it and writes it back formatted.
func editGoMod(f func(*modfile.File) error) func(t *testing.T, fsys fstest.MapFS) {
	return func(t *testing.T, fsys fstest.MapFS) {
		mf, err := modfile.Parse("go.mod", fsys["go.mod"].Data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f(mf); err != nil {
			t.Fatal(err)
		}
		mf.Cleanup()
		data, err := mf.Format()
		if err != nil {
			t.Fatal(err)
		}
		fsys["go.mod"].Data = data
	}
}

// rewriteGoMod writes go.mod anew from its parsed content: requires in
// reverse order, one per line, with or without "// indirect" on every one.
func rewriteGoMod(indirect string) func(t *testing.T, fsys fstest.MapFS) {
	return func(t *testing.T, fsys fstest.MapFS) {
		mf, err := modfile.Parse("go.mod", fsys["go.mod"].Data, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "module %s\n\n", modfile.AutoQuote(mf.Module.Mod.Path))
		if mf.Go != nil {
			fmt.Fprintf(&b, "go %s\n", mf.Go.Version)
		}
		if mf.Toolchain != nil {
			fmt.Fprintf(&b, "toolchain %s\n", mf.Toolchain.Name)
		}
		for i := len(mf.Require) - 1; i >= 0; i-- {
			r := mf.Require[i]
			fmt.Fprintf(&b, "require %s %s%s\n", modfile.AutoQuote(r.Mod.Path), r.Mod.Version, indirect)
		}
		if len(mf.Exclude) > 0 {
			b.WriteString("exclude (\n")
			for i := len(mf.Exclude) - 1; i >= 0; i-- {
				fmt.Fprintf(&b, "\t%s %s\n", modfile.AutoQuote(mf.Exclude[i].Mod.Path), mf.Exclude[i].Mod.Version)
			}
			b.WriteString(")\n")
		}
		for i := len(mf.Replace) - 1; i >= 0; i-- {
			r := mf.Replace[i]
			fmt.Fprintf(&b, "replace %s %s => %s %s\n", modfile.AutoQuote(r.Old.Path), r.Old.Version, modfile.AutoQuote(r.New.Path), r.New.Version)
		}
		fsys["go.mod"].Data = []byte(b.String())
	}
}

func mapLines(file string, f func(lines []string) []string) func(t *testing.T, fsys fstest.MapFS) {
	return func(t *testing.T, fsys fstest.MapFS) {
		lines := strings.Split(strings.TrimSuffix(string(fsys[file].Data), "\n"), "\n")
		fsys[file].Data = []byte(strings.Join(f(lines), "\n") + "\n")
	}
}

func firstRequire(t *testing.T, fsys fstest.MapFS) *modfile.Require {
	mf, err := modfile.Parse("go.mod", fsys["go.mod"].Data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range mf.Require {
		if !strings.HasSuffix(r.Mod.Version, "+incompatible") {
			return r
		}
	}
	t.Fatal("fixture has no requirements")
	return nil
}

// neutralEdits cannot change what `go mod download` does: the key must stay.
var neutralEdits = []edit{
	{"comments and blank lines", mapLines("go.mod", func(lines []string) []string {
		out := []string{"// A comment before everything.", ""}
		for _, l := range lines {
			if strings.TrimSpace(l) != "" {
				l += " // note"
			}
			out = append(out, l, "", "// between lines")
		}
		return out
	})},
	{"whitespace", mapLines("go.mod", func(lines []string) []string {
		for i, l := range lines {
			lines[i] = strings.ReplaceAll(l, "\t", "        ") + " \t "
		}
		return lines
	})},
	{"crlf", func(t *testing.T, fsys fstest.MapFS) {
		for _, f := range []string{"go.mod", "go.sum"} {
			fsys[f].Data = []byte(strings.ReplaceAll(string(fsys[f].Data), "\n", "\r\n"))
		}
	}},
	{"require order and grouping", rewriteGoMod("")},
	{"indirect markers on every require", rewriteGoMod(" // indirect")},
	{"indirect markers dropped", mapLines("go.mod", func(lines []string) []string {
		for i, l := range lines {
			if before, _, ok := strings.Cut(l, "// indirect"); ok {
				lines[i] = before
			}
		}
		return lines
	})},
	{"go.sum reversed", mapLines("go.sum", func(lines []string) []string {
		slices.Reverse(lines)
		return lines
	})},
	{"go.sum duplicated", mapLines("go.sum", func(lines []string) []string {
		return append(lines, lines...)
	})},
	{"go.sum blank lines", mapLines("go.sum", func(lines []string) []string {
		return append([]string{"", "   "}, append(lines, "", "")...)
	})},
	{"retract added", func(t *testing.T, fsys fstest.MapFS) {
		fsys["go.mod"].Data = append(fsys["go.mod"].Data, "\nretract v0.0.1 // published by mistake\n"...)
	}},
	{"module comment", mapLines("go.mod", func(lines []string) []string {
		for i, l := range lines {
			if strings.HasPrefix(l, "module ") {
				lines[i] = l + " // Deprecated: use example.com/other"
				lines = slices.Insert(lines, i, "// The module's own comment.")
				break
			}
		}
		return lines
	})},
}

// semanticEdits can change what `go mod download` does: the key must change.
var semanticEdits = []edit{
	{"go directive", editGoMod(func(f *modfile.File) error { return f.AddGoStmt("1.99") })},
	{"toolchain", editGoMod(func(f *modfile.File) error { return f.AddToolchainStmt("go1.99.9") })},
	{"require bumped", func(t *testing.T, fsys fstest.MapFS) {
		r := firstRequire(t, fsys)
		editGoMod(func(f *modfile.File) error {
			return f.AddRequire(r.Mod.Path, r.Mod.Version+"-0.20991231000000-000000000000")
		})(t, fsys)
	}},
	{"require dropped", func(t *testing.T, fsys fstest.MapFS) {
		r := firstRequire(t, fsys)
		editGoMod(func(f *modfile.File) error { return f.DropRequire(r.Mod.Path) })(t, fsys)
	}},
	{"require added", editGoMod(func(f *modfile.File) error {
		f.AddNewRequire("example.com/added", "v1.0.0", true)
		return nil
	})},
	{"exclude added", editGoMod(func(f *modfile.File) error { return f.AddExclude("example.com/excluded", "v1.0.0") })},
	{"replace added", func(t *testing.T, fsys fstest.MapFS) {
		r := firstRequire(t, fsys)
		editGoMod(func(f *modfile.File) error { return f.AddReplace(r.Mod.Path, "", "example.com/fork", "v1.0.0") })(t, fsys)
	}},
	{"module path", editGoMod(func(f *modfile.File) error { return f.AddModuleStmt("example.com/renamed") })},
	{"go.sum line removed", mapLines("go.sum", func(lines []string) []string { return lines[1:] })},
	{"go.sum hash changed", mapLines("go.sum", func(lines []string) []string {
		l := lines[len(lines)-1]
		c := "A"
		if strings.HasSuffix(l, "A=") {
			c = "B"
		}
		lines[len(lines)-1] = l[:len(l)-2] + c + "="
		return lines
	})},
	{"go.sum line added", mapLines("go.sum", func(lines []string) []string {
		return append(lines, "example.com/added v1.0.0 h1:6W6MbVUrnMb8PEhjkqwsVLY7ryuzRfFHF4mQd7L94ag=")
	})},
	{"vendor in use", func(t *testing.T, fsys fstest.MapFS) {
		fsys["vendor/modules.txt"] = &fstest.MapFile{Data: []byte("# explicit\n")}
	}},
}

func TestRealFixtures(t *testing.T) {
	for _, name := range realFixtures {
		t.Run(name, func(t *testing.T) {
			base := loadFixture(t, filepath.Join("..", "testdata", "real", name))
			want, err := Compute(base, ".")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range neutralEdits {
				t.Run("same/"+e.name, func(t *testing.T) {
					fsys := clone(base)
					e.apply(t, fsys)
					got, err := Compute(fsys, ".")
					if err != nil {
						t.Fatal(err)
					}
					if got.Key != want.Key {
						t.Errorf("key changed from %s to %s; differences: %q", want.Key, got.Key, Diff(want, got))
					}
				})
			}
			for _, e := range semanticEdits {
				t.Run("changed/"+e.name, func(t *testing.T) {
					fsys := clone(base)
					e.apply(t, fsys)
					got, err := Compute(fsys, ".")
					if err != nil {
						t.Fatal(err)
					}
					if got.Key == want.Key {
						t.Errorf("key %s did not change", got.Key)
					}
					if d := Diff(want, got); len(d) == 0 {
						t.Errorf("key changed but Diff explains nothing")
					}
				})
			}
		})
	}
}

// TestRealFixtureVaultReplacements checks that the go.mod of a local
// replacement is an input: vault replaces ./sdk, ./api and others.
func TestRealFixtureVaultReplacements(t *testing.T) {
	base := loadFixture(t, filepath.Join("..", "testdata", "real", "vault"))
	want, err := Compute(base, ".")
	if err != nil {
		t.Fatal(err)
	}
	fsys := clone(base)
	fsys["sdk/go.mod"].Data = append([]byte("// A comment does not matter.\n"), fsys["sdk/go.mod"].Data...)
	if got, err := Compute(fsys, "."); err != nil || got.Key != want.Key {
		t.Fatalf("comment in sdk/go.mod: key %v, %v; want %s", got.Key, err, want.Key)
	}
	fsys["sdk/go.mod"].Data = append(fsys["sdk/go.mod"].Data, "\nrequire example.com/new v1.0.0\n"...)
	got, err := Compute(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	if got.Key == want.Key {
		t.Fatal("a requirement added to sdk/go.mod did not change the key")
	}
	if d, w := Diff(want, got), []string{"replace ./sdk: go.mod changed"}; !slices.Equal(d, w) {
		t.Fatalf("Diff = %q, want %q", d, w)
	}
	delete(fsys, "sdk/go.mod")
	fsys["sdk/README"] = &fstest.MapFile{Data: []byte("The directory stays, its go.mod is gone.\n")}
	_, err = Compute(fsys, ".")
	if err == nil || !strings.Contains(err.Error(), "go.mod:23: replace github.com/hashicorp/vault/sdk => ./sdk: sdk/go.mod does not exist") {
		t.Fatalf("missing sdk/go.mod: error %v", err)
	}
}
