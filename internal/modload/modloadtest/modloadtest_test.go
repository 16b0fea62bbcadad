package modloadtest

import (
	"slices"
	"testing"
)

func TestDeps(t *testing.T) {
	dir := t.TempDir()
	WriteModule(t, dir, nil, map[string]string{
		"go.mod":      "module example.com/m\n\ngo 1.21\n",
		"main.go":     "package main\n\nimport (\n\t\"unsafe\"\n\n\t\"example.com/m/inner\"\n)\n\nfunc main() { inner.Hello(); _ = unsafe.Sizeof(0) }\n",
		"inner/in.go": "package inner\n\nimport \"errors\"\n\nfunc Hello() error { return errors.New(\"hello\") }\n",
	})
	deps := Deps(t, dir, ".")
	if !slices.Contains(deps, "errors") || !slices.Contains(deps, "runtime") {
		t.Errorf("Deps = %v, want errors and runtime among them", deps)
	}
	for _, p := range []string{"example.com/m", "example.com/m/inner", "unsafe"} {
		if slices.Contains(deps, p) {
			t.Errorf("Deps = %v, has %s", deps, p)
		}
	}
	if !slices.IsSorted(deps) {
		t.Errorf("Deps = %v, not sorted", deps)
	}
}
