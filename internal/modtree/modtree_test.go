package modtree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	tests := []struct {
		name  string
		files []string // path, or path=content
		want  string   // units, one per line: dir, "work" and its uses
	}{
		{
			name:  "one module at the root",
			files: []string{"go.mod=module example.com/a\n"},
			want:  ".",
		},
		{
			name: "modules and skipped directories",
			files: []string{
				"svc/a/go.mod=module example.com/a\n",
				"svc/b/go.mod=module example.com/b\n",
				"svc/b/vendor/example.com/v/go.mod=module example.com/v\n",
				"testdata/x/go.mod=module example.com/x\n",
				".hidden/go.mod=module example.com/h\n",
				"_old/go.mod=module example.com/o\n",
				"svc/a/internal/testdata/go.mod=module example.com/t\n",
			},
			want: "svc/a\nsvc/b",
		},
		{
			name: "a workspace warms its modules",
			files: []string{
				"go.work=go 1.22\nuse (\n\t./api\n\t./web\n)\n",
				"api/go.mod=module example.com/api\n",
				"web/go.mod=module example.com/web\n",
				"tools/go.mod=module example.com/tools\n",
			},
			want: ". work api web\ntools",
		},
		{
			name: "a nested workspace and a module used by the root",
			files: []string{
				"go.work=go 1.22\nuse .\n",
				"go.mod=module example.com/root\n",
				"sub/go.work=go 1.22\nuse ./x\nuse ../lib\n",
				"sub/x/go.mod=module example.com/x\n",
				"lib/go.mod=module example.com/lib\n",
			},
			want: ". work .\nsub work sub/x lib",
		},
		{
			name: "go.work that does not use its own directory's module",
			files: []string{
				"go.work=go 1.22\nuse ./a\n",
				"go.mod=module example.com/root\n",
				"a/go.mod=module example.com/a\n",
			},
			want: ". work a\n.",
		},
		{
			name: "ignore directives",
			files: []string{
				"go.mod=module example.com/root\nignore ./web/node_modules\nignore build\n",
				"web/node_modules/pkg/go.mod=module example.com/n\n",
				"x/build/go.mod=module example.com/b\n",
				"x/keep/go.mod=module example.com/k\n",
			},
			want: ".\nx/keep",
		},
		{
			name:  "nothing",
			files: []string{"README=hello\n"},
			want:  "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tc.files {
				name, content, _ := strings.Cut(f, "=")
				file := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			units, err := Find(root)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, u := range units {
				l := u.Dir
				if u.Workspace {
					l += " work"
					for _, use := range u.Uses {
						l += " " + use
					}
				}
				lines = append(lines, l)
			}
			if got := strings.Join(lines, "\n"); got != tc.want {
				t.Errorf("Find:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestFindMissingRoot(t *testing.T) {
	_, err := Find(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Find of a missing root: %v", err)
	}
}
