package cli

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// Version returns the version of cachecheck: the module version it was built
// at, or "devel" for a build from a work tree.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" || info.Main.Version == "(devel)" {
		return "devel"
	}
	return info.Main.Version
}

func newVersionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the cachecheck version",
		usage:   "",
		help:    "Version prints the version of cachecheck and of the Go toolchain that built it.",
		flags:   pflag.NewFlagSet("version", pflag.ContinueOnError),
		run: func(ctx context.Context, io IO, args []string) error {
			if err := maxArgs("version", args, 0); err != nil {
				return err
			}
			info, _ := debug.ReadBuildInfo()
			goVersion := "unknown"
			if info != nil {
				goVersion = info.GoVersion
			}
			_, err := fmt.Fprintf(io.Out, "cachecheck %s (%s)\n", Version(), goVersion)
			return err
		},
	}
}
