package goenv_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/goenv"
)

// environ returns the environment without the settings of Env and with
// GOENV=file.
func environ(file string, set ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOFLAGS", "GOENV":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "GOENV="+file, "GOTOOLCHAIN=local"), set...)
}

// TestReadGoEnvFile checks that the settings 'go env -w' writes count, and
// that the environment overrides them, as for the go command.
func TestReadGoEnvFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	w := exec.Command("go", "env", "-w", "GOPRIVATE=corp.example", "GOFLAGS=-mod=mod", "GOPROXY=http://127.0.0.1:1/mod")
	w.Env = environ(file)
	if out, err := w.CombinedOutput(); err != nil {
		t.Fatalf("go env -w: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		env  []string
		want goenv.Env
	}{
		{"go env file", nil, goenv.Env{GOPROXY: "http://127.0.0.1:1/mod", GOPRIVATE: "corp.example", GONOPROXY: "corp.example", GONOSUMDB: "corp.example", GOFLAGS: "-mod=mod"}},
		{"environment over the file", []string{"GOPRIVATE=other.example", "GONOPROXY=none", "GOPROXY=off"}, goenv.Env{GOPROXY: "off", GOPRIVATE: "other.example", GONOPROXY: "none", GONOSUMDB: "other.example", GOFLAGS: "-mod=mod"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := goenv.Read(context.Background(), "go", t.TempDir(), environ(file, tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			if *got != tc.want {
				t.Errorf("Read = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestReadError(t *testing.T) {
	_, err := goenv.Read(context.Background(), filepath.Join(t.TempDir(), "no-go"), t.TempDir(), os.Environ())
	if err == nil || !strings.Contains(err.Error(), "running go env") {
		t.Errorf("Read with a missing go command: %v, want an error running go env", err)
	}
}
