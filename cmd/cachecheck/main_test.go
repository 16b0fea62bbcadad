package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/cli"
	"github.com/cachecheck/cachecheck/internal/testenv"
	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the cmp files of failing script tests")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cachecheck": func() {
			os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScript runs the command-line tests in testdata/script at the top of
// the repository. A long script (one that compiles the standard library
// into a fresh GOCACHE, say) starts with
//
//	[quick] skip 'long: why'
//
// so that go test -short, the contributor's quick loop, leaves it out;
// .ci/test.sh runs every script (see testenv.Short).
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Condition:           scriptCondition,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"damagegit": cmdDamageGit,
			"exitcode":  cmdExitcode,
			"fails":     cmdFails,
			"garbage":   cmdGarbage,
			"mkproxy":   cmdMkproxy,
			"registry":  cmdRegistry,
			"repeat":    cmdRepeat,
		},
	})
}

// scriptCondition evaluates the conditions of this project's scripts:
// [quick] is true under go test -short outside .ci/test.sh.
func scriptCondition(cond string) (bool, error) {
	switch cond {
	case "quick":
		return testenv.Short(), nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// cmdExitcode runs a program and checks its exit code:
//
//	exitcode N program [args...]
//
// Its output is discarded: check it with a separate 'exec'.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	path, err := exec.LookPath(args[1])
	if ts.Getenv("PATH") != "" {
		for _, dir := range strings.Split(ts.Getenv("PATH"), string(os.PathListSeparator)) {
			if p, err2 := exec.LookPath(dir + string(os.PathSeparator) + args[1]); err2 == nil {
				path, err = p, nil
				break
			}
		}
	}
	ts.Check(err)
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, kv := range []string{"PATH", "HOME", "GOPROXY", "GOFLAGS", "GONOSUMDB", "GOSUMDB", "GOMODCACHE", "GOCACHE", "TMPDIR", "WORK"} {
		cmd.Env = append(cmd.Env, kv+"="+ts.Getenv(kv))
	}
	err = cmd.Run()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}
