// Package cli implements the cachecheck command line: flag parsing, command
// dispatch and the mapping of errors to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Exit codes, a documented contract (see cmd/cachecheck/doc.go).
const (
	ExitOK       = 0 // success
	ExitFailure  = 1 // the command failed
	ExitUsage    = 2 // bad command line
	ExitFindings = 3 // findings or conditions over the --fail-on threshold
)

// IO holds the streams a command reads and writes. Nothing below Run uses
// os.Stdin, os.Stdout or os.Stderr.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// command is one cachecheck subcommand.
type command struct {
	name     string
	summary  string // one line, for the command list
	usage    string // arguments after the command name, e.g. "[flags] [DIR]"
	help     string // what the command does, several lines
	examples string // example invocations, one per line, with a comment
	flags    *pflag.FlagSet
	// validate checks the flags and positional arguments, once parsed,
	// without touching files, the network or the environment beyond
	// variables: a usage error for a bad value or combination. ParseArgs
	// runs it too. Nil when there is nothing to check.
	validate func(args []string) error
	// run runs the command on its positional arguments, after the flags
	// were parsed and validate returned nil.
	run func(ctx context.Context, io IO, args []string) error
}

// commands returns the registered commands. Only commands that work are
// registered.
func commands() []*command {
	cmds := []*command{
		newAnalyzeCommand(),
		newBenchCommand(),
		newKeyCommand(),
		newPruneCommand(),
		newReportCommand(),
		newRefCommand(),
		newRenderCommand(),
		newWarmCommand(),
		newVersionCommand(),
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// UsageError is a bad command line; it exits with ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// ExitError carries an exit code other than ExitFailure. When Err is nil,
// nothing is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps an error returned by Run to the process exit code.
func ExitCode(err error) int {
	var ue *UsageError
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// Main runs cachecheck with args (without the program name), prints any error
// once to stderr as "cachecheck: …", and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := Run(ctx, args, stdin, stdout, stderr)
	var ee *ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Err == nil) {
		fmt.Fprintf(stderr, "cachecheck: %v\n", err)
		var ue *UsageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "Run 'cachecheck help' for usage.\n")
		}
	}
	return ExitCode(err)
}

// Run runs cachecheck with args (without the program name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	streams := IO{In: stdin, Out: stdout, Err: stderr}
	if len(args) == 0 {
		printMainUsage(stderr)
		return &ExitError{Code: ExitUsage}
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 && name == "help" {
			cmd := lookup(args[1])
			if cmd == nil {
				return usageErrorf("help %s: unknown command", args[1])
			}
			printCommandUsage(stdout, cmd)
			return nil
		}
		printMainUsage(stdout)
		return nil
	}
	cmd := lookup(name)
	if cmd == nil {
		return usageErrorf("unknown command %q", name)
	}
	cmd.flags.SetOutput(io.Discard)
	cmd.flags.SortFlags = false
	help := cmd.flags.BoolP("help", "h", false, "show this help")
	if err := cmd.flags.Parse(args[1:]); err != nil {
		return usageErrorf("%s: %v", cmd.name, err)
	}
	if *help {
		printCommandUsage(stdout, cmd)
		return nil
	}
	if cmd.validate != nil {
		if err := cmd.validate(cmd.flags.Args()); err != nil {
			return err
		}
	}
	return cmd.run(ctx, streams, cmd.flags.Args())
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printMainUsage(w io.Writer) {
	fmt.Fprintf(w, "cachecheck makes the Go dependency layer of container builds a shared,\nverified, measurable artifact.\n\n")
	fmt.Fprintf(w, "Usage:\n\n\tcachecheck <command> [flags] [args]\n\nCommands:\n\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'cachecheck help <command>' or 'cachecheck <command> --help' for details.\n")
	fmt.Fprintf(w, "Exit codes: 0 success, 1 failure, 2 usage error, 3 findings over --fail-on.\n")
}

func printCommandUsage(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: cachecheck %s %s\n\n", c.name, c.usage)
	fmt.Fprintf(w, "%s\n", strings.TrimSpace(c.help))
	if c.flags.HasFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", c.flags.FlagUsagesWrapped(80))
	}
	if c.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n\n")
		for _, line := range strings.Split(strings.TrimSpace(c.examples), "\n") {
			fmt.Fprintf(w, "  %s\n", strings.TrimSpace(line))
		}
	}
}

// maxArgs rejects more than n positional arguments.
func maxArgs(cmd string, args []string, n int) error {
	if len(args) > n {
		return usageErrorf("%s: too many arguments: %s", cmd, strings.Join(args[n:], " "))
	}
	return nil
}

// ParseArgs parses a cachecheck command line (without the program name) with
// the command's real flags and validates it as Run does, and runs nothing:
// for checking command lines written elsewhere, such as the CI examples.
func ParseArgs(args []string) error {
	if len(args) == 0 {
		return usageErrorf("no command")
	}
	cmd := lookup(args[0])
	if cmd == nil {
		return usageErrorf("unknown command %q", args[0])
	}
	cmd.flags.SetOutput(io.Discard)
	if err := cmd.flags.Parse(args[1:]); err != nil {
		return usageErrorf("%s: %v", cmd.name, err)
	}
	if cmd.validate != nil {
		return cmd.validate(cmd.flags.Args())
	}
	return nil
}
