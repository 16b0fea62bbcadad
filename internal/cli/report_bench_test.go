package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/testenv"
)

// BenchmarkReportVault runs 'cachecheck report --base HEAD~1' in a git
// repository holding vault's go.mod and go.sum (897 modules) and a
// Dockerfile, where the last commit bumps one requirement and edits the
// Dockerfile: the pull-request report with no registry and no build
// involved. Target: well under 2 s.
func BenchmarkReportVault(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join("..", "..", "testdata", "real", "vault")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		b.Fatal(err)
	}
	dockerfile := "FROM golang:1.25 AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nCOPY api/go.mod api/\nCOPY sdk/go.mod sdk/\nRUN go mod download\nCOPY . .\nRUN CGO_ENABLED=0 go build -o /vault .\nFROM scratch\nCOPY --from=build /vault /vault\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644)
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(".git\n"), 0o644)
	git := func(args ...string) { testenv.Git(b, dir, args...) }
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "base")
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(strings.Replace(string(mod), "cloud.google.com/go/kms v1.23.0", "cloud.google.com/go/kms v1.23.1", 1)), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(strings.Replace(dockerfile, "COPY . .", "COPY . .\nRUN echo changed", 1)), 0o644)
	git("commit", "-q", "-a", "-m", "head")

	b.ResetTimer()
	for b.Loop() {
		var out, errb bytes.Buffer
		err := Run(context.Background(), []string{"report", "--base", "HEAD~1", "--head", "HEAD", dir}, nil, &out, &errb)
		if err != nil {
			b.Fatalf("report: %v\n%s", err, errb.String())
		}
		if !strings.Contains(out.String(), "cloud.google.com/go/kms v1.23.0 -> v1.23.1") {
			b.Fatalf("report does not show the bump:\n%s", out.String())
		}
	}
}
