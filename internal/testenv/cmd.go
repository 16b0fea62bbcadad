package testenv

import (
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/buildcache"
)

// GoEnv returns the value of the go command's setting name (`go env NAME`).
func GoEnv(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// Git runs git in dir with the user's and the system's git configuration
// left out and a fixed author and committer, and returns its output without
// surrounding space; it fails the test if git fails.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Toolchain returns the directory of the official Go toolchain of release
// (such as "go1.27.3") for this machine's GOOS and GOARCH: the
// golang.org/toolchain module, downloaded through the module proxy (and
// checked against the checksum database, as any module) by
// [buildcache.FetchToolchain], as warm fetches it, into a cache of the
// test's. It is a GOROOT.
func Toolchain(t testing.TB, release string) string {
	t.Helper()
	return ToolchainFor(t, release, runtime.GOOS, runtime.GOARCH)
}

// ToolchainFor is [Toolchain] for goos/goarch, such as linux/arm64.
func ToolchainFor(t testing.TB, release, goos, goarch string) string {
	t.Helper()
	g, err := buildcache.FetchToolchain(context.Background(), release, goos, goarch, t.TempDir(), os.Environ(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return g.Dir
}
