package main

import (
	"context"
	"flag"
	"os"
	"testing"

	"github.com/cachecheck/cachecheck/internal/cli"
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
// the repository.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds:                map[string]func(*testscript.TestScript, bool, []string){"mkproxy": cmdMkproxy},
	})
}
