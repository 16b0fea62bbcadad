package analyzer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkAnalyze measures Load plus Analyze of a 200-line Dockerfile over
// a 10,000-file build context on disk (generated once), the size the
// README promises to handle in under a second:
//
//	go test -run '^$' -bench BenchmarkAnalyze -benchtime 20x ./analyzer
//
// With ANALYZER_BENCH_CONTEXT set to a directory (analyzer/bench.sh
// generates a 200,000-file one in WORK/ctx2-200000), it analyzes that
// context instead, with the Dockerfile ANALYZER_BENCH_DOCKERFILE (a path
// in it, default Dockerfile), for profiling:
//
//	ANALYZER_BENCH_CONTEXT=DIR go test -run '^$' -bench BenchmarkAnalyze -cpuprofile cpu.out ./analyzer
func BenchmarkAnalyze(b *testing.B) {
	if dir := os.Getenv("ANALYZER_BENCH_CONTEXT"); dir != "" {
		benchmarkAnalyzeDir(b, dir, os.Getenv("ANALYZER_BENCH_DOCKERFILE"), 0)
		return
	}
	dir := b.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("go.mod", "module example.com/big\n\ngo 1.22\n\nrequire example.com/dep v1.0.0\n\nreplace example.com/lib => ./lib\n")
	write("go.sum", "example.com/dep v1.0.0 h1:AAAA\n")
	write("lib/go.mod", "module example.com/lib\n")
	write(".dockerignore", ".git\n**/*.tmp\n!keep.tmp\nbin/\n")
	files := 4
	for i := 0; files < 10000; i++ {
		for j := 0; j < 50 && files < 10000; j++ {
			ext := ".go"
			if j%10 == 9 {
				ext = ".tmp"
			}
			write(fmt.Sprintf("pkg/p%03d/f%02d%s", i, j, ext), "package p\n")
			files++
		}
	}
	var df strings.Builder
	df.WriteString("# syntax=docker/dockerfile:1\nARG GO_VERSION=1.22\n")
	lines := 2
	for s := 0; lines < 195; s++ {
		fmt.Fprintf(&df, "FROM golang:${GO_VERSION}-bookworm AS s%d\nWORKDIR /src\nENV CGO_ENABLED=0\n", s)
		df.WriteString("COPY go.mod go.sum ./\nCOPY lib/go.mod lib/\nRUN --mount=type=cache,target=/go/pkg/mod go mod download\n")
		lines += 6
		for k := 0; k < 8 && lines < 195; k++ {
			fmt.Fprintf(&df, "COPY pkg/p%03d/ pkg/p%03d/\nRUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build go build ./pkg/p%03d\n", s*8+k, s*8+k, s*8+k)
			lines += 2
		}
	}
	df.WriteString("COPY . .\nRUN go build -o /app ./...\nFROM scratch\nCOPY --from=s0 /app /app\nENTRYPOINT [\"/app\"]\n")
	write("Dockerfile", df.String())
	if n := strings.Count(df.String(), "\n"); n < 195 || n > 205 {
		b.Fatalf("generated Dockerfile has %d lines, want about 200", n)
	}
	benchmarkAnalyzeDir(b, dir, "", 9000)
}

// benchmarkAnalyzeDir runs Load, Analyze and the context listing of dir
// with its Dockerfile dockerfile ("" for Dockerfile), which must list at
// least minFiles files after .dockerignore.
func benchmarkAnalyzeDir(b *testing.B, dir, dockerfile string, minFiles int) {
	var opts []LoadOption
	if dockerfile != "" {
		opts = append(opts, WithDockerfile(nil, dockerfile))
	}
	b.ReportAllocs()
	for b.Loop() {
		build, err := Load(os.DirFS(dir), opts...)
		if err != nil {
			b.Fatal(err)
		}
		findings, err := Analyze(build)
		if err != nil {
			b.Fatal(err)
		}
		if len(findings) == 0 {
			b.Fatal("no findings from a Dockerfile built to have some")
		}
		if got, _ := build.Files(); len(got) < minFiles {
			b.Fatalf("context lists %d files, want at least %d after .dockerignore", len(got), minFiles)
		}
	}
}
