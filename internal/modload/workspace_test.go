package modload_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cachecheck/cachecheck/internal/modload"
	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
)

// TestWorkspace downloads the modules of every module of a workspace and
// verifies them against the go.sum files of its modules.
func TestWorkspace(t *testing.T) {
	f := modloadtest.NewFixture(t, "v1.0.0")
	ws := t.TempDir()
	if err := os.Rename(f.App, filepath.Join(ws, "app")); err != nil {
		t.Fatal(err)
	}
	modloadtest.WriteModule(t, filepath.Join(ws, "tool"), f.Env, map[string]string{
		"go.mod":  "module example.com/tool\n\ngo 1.21\n\nrequire example.com/a v1.1.0\n",
		"tool.go": "package tool\n\nimport \"example.com/a\"\n\nvar X = a.A()\n",
	})
	if err := os.WriteFile(filepath.Join(ws, "go.work"), []byte("go 1.22\n\nuse (\n\t./app\n\t./tool\n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "modcache")
	t.Cleanup(func() { modloadtest.RemoveAll(cache) })
	res, err := modload.Download(context.Background(), ws, modload.WithGoModCache(cache), modload.WithEnv(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Modules {
		got = append(got, m.String())
	}
	// The workspace selects example.com/a v1.1.0 for both modules.
	want := []string{"corp.example/p@v1.0.0", "example.com/a@v1.1.0", "example.com/b@v1.0.0", "example.com/c@v1.0.0"}
	if !slices.Equal(got, want) {
		t.Errorf("modules = %q, want %q", got, want)
	}
	if res.GoVersion != "1.22" {
		t.Errorf("GoVersion = %q, want the go.work's 1.22", res.GoVersion)
	}
	if _, err := modload.Verify(context.Background(), ws, res); err != nil {
		t.Fatal(err)
	}
}
