package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/gitfs"
	"github.com/cachecheck/cachecheck/reports"
	"github.com/spf13/pflag"
)

type keyOptions struct {
	format  *enumValue
	explain bool
	diff    string
}

func newKeyCommand() *command {
	o := &keyOptions{format: newEnum("text", "text", "markdown", "json")}
	fs := pflag.NewFlagSet("key", pflag.ContinueOnError)
	fs.Var(o.format, "format", "output format: text, json, or with --diff markdown (for a pull request comment)")
	fs.BoolVar(&o.explain, "explain", false, "print the canonical inputs the key hashes, one per line")
	fs.StringVar(&o.diff, "diff", "", "explain how the inputs differ from `OTHER`: a directory, or a git revision of DIR's repository")
	return &command{
		name:    "key",
		summary: "compute the dependency cache key of a Go module or workspace",
		usage:   "[--format text|markdown|json] [--explain] [--diff OTHER] [DIR]",
		help: `
Key computes the dependency cache key of the Go module or workspace in DIR
(default "."), from go.mod, go.sum, go.work, go.work.sum and the go.mod of
every local replacement. It needs no network and no go command.

The key changes whenever the output of 'go mod download' can change: the go
and toolchain directives, every requirement, replace and exclude, the go.sum
entries, the workspace's use and replace lines, and whether vendor/ is in use.
It does not change for comments, blank lines, line endings, the order or
grouping of lines, '// indirect' markers or duplicated go.sum lines.

The key is printed as ck1- and 32 hex digits, usable as an image tag.
--explain prints the canonical inputs; --diff OTHER compares DIR with another
directory, or with a git revision of DIR's repository read without touching
the work tree, and says which inputs differ.`,
		examples: `
cachecheck key                       # the key of the module in the current directory
cachecheck key --explain ./services/api
cachecheck key --format json         # key and canonical inputs for scripts
cachecheck key --diff origin/main    # what changed since main
cachecheck key --diff ../other-checkout`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}
}

type keySource struct {
	Name   string           `json:"source"`
	Result *cachekey.Result `json:"-"`
}

func (o *keyOptions) validate(args []string) error {
	if err := maxArgs("key", args, 1); err != nil {
		return err
	}
	if o.diff != "" && o.explain {
		return usageErrorf("key: --explain and --diff do not go together; run them one after the other")
	}
	if o.format.String() == "markdown" && o.diff == "" {
		return usageErrorf("key: --format markdown is for --diff; give --diff OTHER, or --format text or json")
	}
	return nil
}

func (o *keyOptions) run(ctx context.Context, io IO, args []string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	res, err := cachekey.ComputeDir(dir)
	if err != nil {
		return err
	}
	if o.diff != "" {
		other, name, err := computeOther(ctx, dir, "--diff", o.diff)
		if err != nil {
			return err
		}
		return printKeyDiff(io.Out, o.format.String(), keySource{name, other}, keySource{dir, res})
	}
	doc := &reports.Key{Key: res.Key, Dir: filepath.ToSlash(dir), Workspace: res.Workspace, Inputs: res.Inputs, Explain: o.explain}
	return reports.Write(io.Out, reports.Format(o.format.String()), doc)
}

// computeOther computes the key of other, given as flag: a directory, or
// else a git revision of the repository holding dir, read at dir's place in
// it. Its errors name the flag.
func computeOther(ctx context.Context, dir, flag, other string) (*cachekey.Result, string, error) {
	if fi, err := os.Stat(other); err == nil && fi.IsDir() {
		res, err := cachekey.ComputeDir(other)
		return res, other, err // its errors name the files under other
	}
	tree, err := openRevision(ctx, dir, flag, other)
	if err != nil {
		return nil, "", err
	}
	prefix, err := gitfs.Prefix(ctx, dir)
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", flag, other, err)
	}
	display := func(p string) string { return other + ":" + p }
	res, err := cachekey.Compute(tree, path.Clean(prefix), cachekey.WithDisplayPath(display))
	if err != nil {
		return nil, "", err // its errors name the files as REV:PATH
	}
	name := other
	if prefix != "." {
		name = other + ":" + prefix
	}
	return res, name, nil
}

// openRevision opens git revision rev of the repository holding dir, for
// flag. A revision that does not exist, or a dir outside any repository,
// is a usage error; a repository that cannot be read is a failure.
func openRevision(ctx context.Context, dir, flag, rev string) (*gitfs.FS, error) {
	tree, err := gitfs.Open(ctx, dir, rev)
	switch {
	case errors.Is(err, gitfs.ErrNotRepository):
		return nil, usageErrorf("%s %q is not a directory, and %s is not in a git repository to read it as a revision from; give a directory, or run in a git checkout", flag, rev, dir)
	case errors.Is(err, gitfs.ErrNoRevision):
		return nil, usageErrorf("%s %q is neither a directory nor a git revision of %s's repository; give a directory, or a commit such as origin/main", flag, rev, dir)
	case err != nil:
		return nil, fmt.Errorf("%s %q: %w", flag, rev, err)
	}
	return tree, nil
}

// printKeyDiff writes how the inputs of old and new differ, in format.
func printKeyDiff(w io.Writer, format string, old, new keySource) error {
	doc := &reports.KeyDiff{
		Old:     reports.KeySide{Key: old.Result.Key, Source: old.Name},
		New:     reports.KeySide{Key: new.Result.Key, Source: new.Name},
		Same:    old.Result.Key == new.Result.Key,
		Changes: nonNil(cachekey.Diff(old.Result, new.Result)),
	}
	return reports.Write(w, reports.Format(format), doc)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
