/*
Cachecheck makes the Go dependency layer of container builds a shared,
verified, measurable artifact: it hashes go.mod and go.sum into semantic
dependency cache keys, and (in later commands) builds, publishes and
measures deps-only images and analyses Dockerfiles for layer-cache behaviour.

# Usage

	cachecheck <command> [flags] [args]

The commands are:

	key      compute the dependency cache key of a Go module or workspace
	version  print the cachecheck version

Run 'cachecheck help <command>' for a command's flags and examples.

# cachecheck key

	cachecheck key [--format text|json] [--explain] [--diff OTHER] [DIR]

Key computes the dependency cache key of the Go module or workspace in DIR
(default "."), from the files alone: no network and no go command. The key
changes whenever the output of 'go mod download' can change and stays the
same for edits that cannot change it (comments, whitespace, line endings,
order and grouping of lines, '// indirect' markers, duplicated go.sum lines,
retract and module comments). Its inputs are:

  - the go and toolchain directives and the module path;
  - every require (path and version, direct or indirect), replace and
    exclude; for a replacement by a local directory, that directory's go.mod;
  - the go.sum entries, as a set;
  - in a workspace (a go.work in DIR): the go.work go, toolchain, use and
    replace lines, every used module's go.mod and go.sum, and go.work.sum;
  - whether vendor/modules.txt exists;
  - the key schema version.

The key prints as "ck1-" and 32 lower-case hex digits (the first 128 bits of
a SHA-256 of the canonical inputs), valid as an image tag. --explain prints
the canonical inputs, one per line, then the key. --diff OTHER compares with
OTHER, a directory or a git revision of DIR's repository (read with git,
without touching the work tree), and prints one line per changed input:

	key ck1-a177fd07cccf185bab05061bbd1ec631 (HEAD) -> ck1-18ed5acb9b8038b9617fc243801bee03 (.)
	  go 1.22 -> 1.23
	  +golang.org/x/mod v0.17.0
	  -golang.org/x/sys v0.15.0
	  golang.org/x/text v0.14.0 -> v0.15.0
	  replace ./sdk: go.mod changed
	  go.sum: +4 -4 entries

# Output formats

--format text (the default) prints for people; --format json prints one
JSON document with a "protocol_version" field (now 1). Fields are only ever
added within a protocol version. For key:

	{"protocol_version": 1, "key": "ck1-…", "dir": ".", "workspace": false, "inputs": ["schema 1", …]}

and for key --diff:

	{"protocol_version": 1, "old": {"key": "ck1-…", "source": "HEAD"}, "new": {…}, "same": false, "changes": ["go 1.22 -> 1.23", …]}

Errors go to standard error as one line starting with "cachecheck: ", naming
the file and line (go.mod:12: …) or the module (path@version: …).

# Exit codes

	0  success
	1  failure: bad input, a failed download, an unreachable registry, …
	2  usage: an unknown command or flag, a bad flag value or combination
	3  findings or conditions over the --fail-on threshold
*/
package main
