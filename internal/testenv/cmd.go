package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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
// checked against the checksum database, as any module) into a module
// cache of the test's, within 5 minutes. It is a GOROOT.
func Toolchain(t testing.TB, release string) string {
	t.Helper()
	return ToolchainFor(t, release, runtime.GOOS, runtime.GOARCH)
}

// ToolchainFor is [Toolchain] for goos/goarch, such as linux/arm64.
func ToolchainFor(t testing.TB, release, goos, goarch string) string {
	t.Helper()
	mod := fmt.Sprintf("golang.org/toolchain@v0.0.1-%s.%s-%s", release, goos, goarch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOMODCACHE="+t.TempDir(), "GOFLAGS=-modcacherw", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("go mod download %s: no answer from the module proxy in 5 minutes", mod)
	}
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); err != nil || jerr != nil || m.Error != "" {
		t.Fatalf("go mod download %s: %v %v %s\n%s", mod, err, jerr, m.Error, out)
	}
	// Module zips keep no file modes: the go command makes a toolchain's
	// programs executable when it switches to it, and so does this.
	for _, sub := range []string{"bin", "pkg/tool"} {
		err := filepath.WalkDir(filepath.Join(m.Dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			return os.Chmod(p, 0o755)
		})
		if err != nil {
			t.Fatalf("making the programs of %s executable: %v", mod, err)
		}
	}
	return m.Dir
}
