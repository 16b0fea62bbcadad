package buildcache_test

import (
	"context"
	"debug/elf"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/testenv"
)

// TestCrossCompiledHitsNative is the proof that a build cache for another
// platform can be compiled here by cross-compiling: the dependencies of
// the fixture compiled for linux/arm64 by the go command here (amd64), then
// built by the official linux/arm64 toolchain of the same release, run
// under qemu-aarch64-static (its tools too, through -toolexec, which does
// not enter the cache keys), offline: go build compiles the main package
// alone. The go command keys a release's tools by their version line, not
// their binaries ("compile version go1.26.8"), so the two toolchains'
// entries are the same. With -trimpath; without it the standard library's
// directory enters the keys, and the two GOROOTs must be at one path, as
// they are in a base image's variants (/usr/local/go).
func TestCrossCompiledHitsNative(t *testing.T) {
	qemu := testenv.Getenv(t, "CACHECHECK_QEMU_AARCH64", "qemu-user-static (.ci/setup.d/25-qemu.sh)")
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skipf("cross-compiles from linux/amd64 to linux/arm64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	ctx := context.Background()
	f, res := fixture(t)
	s := buildcache.Settings{Trimpath: true, CGOEnabled: "0", GOOS: "linux", GOARCH: "arm64"}
	start := time.Now()
	r, err := buildcache.Build(ctx, f.App, res, s, buildcache.WithEnv(f.Env))
	if err != nil {
		t.Fatal(err)
	}
	cross := time.Since(start)
	if !slices.Contains(r.Packages, "fmt") || r.Settings.GOARCH != "arm64" || r.Settings.GoVersion != runtime.Version() {
		t.Fatalf("compiled %d packages for %s %s; want fmt among them, for arm64 with %s", len(r.Packages), r.Settings.GoVersion, r.Settings.GOARCH, runtime.Version())
	}

	goroot := testenv.ToolchainFor(t, runtime.Version(), "linux", "arm64")
	bin := filepath.Join(t.TempDir(), "app")
	cmd := exec.CommandContext(ctx, qemu, filepath.Join(goroot, "bin", "go"), "build", "-toolexec="+qemu, "-trimpath", "-v", "-o", bin, ".")
	cmd.Dir = f.App
	cmd.Env = append(slices.Clone(f.Env), "GOCACHE="+r.GoCache, "GOMODCACHE="+res.GoModCache, "GOROOT="+goroot,
		"GOPROXY=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOTOOLCHAIN=local")
	start = time.Now()
	out, err := cmd.CombinedOutput()
	native := time.Since(start)
	if err != nil {
		t.Fatalf("the arm64 toolchain under qemu: go build: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{"example.com/app"}) {
		t.Errorf("the arm64 toolchain compiled %q with the cross-compiled cache; want only example.com/app, the main package", got)
	}
	e, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Machine != elf.EM_AARCH64 {
		t.Errorf("the binary is for %v, want arm64", e.Machine)
	}
	t.Logf("cross-compiled %d packages for linux/arm64 in %.1f s; the arm64 go build under qemu, the main package only: %.1f s", len(r.Packages), cross.Seconds(), native.Seconds())
}
