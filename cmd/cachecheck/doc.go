/*
Cachecheck makes the Go dependency layer of container builds a shared,
verified, measurable artifact: it hashes go.mod and go.sum into semantic
dependency cache keys, builds, verifies and publishes deps-only images
without a Docker daemon, analyses Dockerfiles for layer-cache behaviour,
measures real builds with and without the deps image, and reports all of it
on pull requests.

# Usage

	cachecheck <command> [flags] [args]

The commands are:

	analyze  check how a Dockerfile's layer cache treats the Go module download
	bench    time real builds with and without the deps image
	key      compute the dependency cache key of a Go module or workspace
	prune    delete the deps images no branch needs any more
	ref      print the reference of the deps image for a Go module
	render   render the JSON of a cachecheck command again as text, markdown or JSON
	report   say what a pull request does to the build cache
	version  print the cachecheck version
	warm     build and publish the deps-only image of a Go module

Run 'cachecheck help <command>' for a command's flags and examples.

# cachecheck key

	cachecheck key [--format text|markdown|json] [--explain] [--diff OTHER] [DIR]

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

With --diff, --format markdown writes the same for a pull request comment.

# cachecheck warm

	cachecheck warm [--to TARGET] [--base REF] [--force] [--layers N] [--contents full|zips]
	                [--compression gzip|zstd] [--build-cache [--build-flags FLAGS] [--dockerfile FILE]]
	                [--insecure] [--timeout DURATION] [--download-timeout DURATION]
	                [--format text|markdown|json] [-q] [DIR]

Warm computes the key of DIR and looks its tag up in TARGET (a registry
repository, oci:DIR or tarball:FILE; default oci:DIR/.cachecheck/oci). On a
hit it says so and exits 0. Otherwise it runs the real 'go mod download
-json' into a fresh module cache (the user's GOPROXY, GOPRIVATE, GONOSUMDB,
GOFLAGS, GOINSECURE and credentials apply; GOTOOLCHAIN=local unless set),
verifies every module against go.sum as 'go mod verify' does, packs the cache
at /go/pkg/mod into reproducible layers (modules spread over --layers by a
hash of their path, GOPRIVATE modules apart; only what go.sum verifies, each
file checked against go.sum as it is packed), builds the image on --base or
on nothing, and writes it, the tag last. --build-cache adds a layer of the
compiled dependency packages, for the Go settings of the Dockerfile's go
build (or --build-flags): --dockerfile, else the one Dockerfile that builds
Go in DIR or its build/, build/package/, scripts/, docker/, deploy/ or
.docker/ (several: warm asks for --dockerfile; none: warm says on stderr
which defaults it compiles for, and why). The tag is the key, then the first 12 hex digits
of the base digest, "-zips" and "-bc" and a settings digest as they apply.
When the target holds the build cache layer for the same key, settings and
Go release under another tag (other --contents or --base), warm reuses it
rather than compiling, and says so (build_cache.reused_from in the JSON).

--download-timeout (default 5m) abandons 'go mod download' when the module
cache has not grown for that long: the go command bounds no fetch in time.

In an OCI layout a hit needs every blob of the tag, by size (manifests and
configs by digest too): a tag whose blobs are missing is rebuilt, and warm
says so on stderr; --force rebuilds even a tag whose manifest is gone. Layout
files get the modes the umask allows. A failed or interrupted warm (SIGINT,
SIGTERM) removes its temporary directories ($TMPDIR/cachecheck-*) and kills
the go command's process group; on Linux the go command dies with warm even
when warm is killed. 'cachecheck prune --to oci:DIR --gc' collects what a
killed warm leaves in a layout.

Every command that reaches a registry (warm, ref, prune, report, bench)
takes --insecure (plain HTTP and unverified TLS) and --timeout DURATION
(default 30s, or $CACHECHECK_TIMEOUT): a request that makes no progress for
that long (connecting, answering, sending or accepting a byte) is abandoned
and, when it can be, sent again; reads and manifest writes are retried with
backoff on resets, stalls and 5xx, 429 and 503 after their Retry-After, and
a lookup, stamp, tag or delete gives up after 10 times --timeout. A failure
names the registry and the operation and says what to do.

# cachecheck ref

	cachecheck ref [--to TARGET] [--base REF] [--contents full|zips] [--build-cache [--build-flags FLAGS] [--dockerfile FILE]]
	               [--nearest] [--fallback IMAGE] [--format text|json] [DIR]

Ref prints the reference of the deps image for the current key, in the form
its consumer takes (repo:tag@digest for FROM). With --nearest, when the key
has none, the published image sharing the most modules; else --fallback;
else it fails and says to run warm. --build-cache looks for the image 'warm
--build-cache' published for the same build settings (the Dockerfile's go
build, or --build-flags, with the Go release of --base); --nearest then
considers only images with the same build cache, and without --build-cache
only images without one. Its JSON says, in "build_cache", what the image's
build cache was compiled for.

# cachecheck render

	cachecheck render [--format text|markdown|json] FILE

Render reads a JSON document that a cachecheck command printed with --format
json (from FILE, or from standard input for -) and writes it again: as the
text the command prints without --format json, as markdown for the kinds
that have it (such as report, warm, warm-all and key-diff), or as JSON. The document's
"kind" (below) says which command wrote it; a document of another
protocol_version, or without a kind, is refused. The model is govulncheck's
-mode convert: a CI job keeps one JSON file and renders it where it is
shown.

	cachecheck key --diff origin/main --format json > key.json
	cachecheck render key.json                     # what key --diff printed
	cachecheck render --format markdown key.json   # for the pull request

# cachecheck prune

	cachecheck prune --to TARGET [--keep N] [--older-than DURATION] [--protect KEY ...] [--protect-tree DIR ...] [--dry-run]
	cachecheck prune --to oci:DIR --gc [--older-than DURATION] [--dry-run]

Prune deletes from a registry repository or an OCI layout the deps images
that are not protected, not among the --keep newest of their module, and
published (by their stamp, TAG.stamp) longer ago than --older-than. With
--gc it removes no image but collects an OCI layout's garbage: the blobs no
tag of index.json needs (left by --force or by a killed warm) and the .tmp-*
files of killed writes, modified longer ago than --older-than (default 10m
with --gc), under the layout's locks, which a warm writing to the layout
holds until its tag is written. It also names the tags whose blobs are
missing, which the next warm rebuilds.

# cachecheck analyze

	cachecheck analyze [--file Dockerfile] [--format text|json|sarif] [--fail-on SEVERITY]
	                   [--disable ID,...] [--deps-image REF] [--resolve-bases [--insecure] [--timeout D]]
	                   [--build-arg NAME=VALUE] [--fix | --diff] [CONTEXT]
	cachecheck analyze --base REV [--head REV] [--classic-builder] [--file Dockerfile] [--format text|json] [CONTEXT]

Analyze reads the Dockerfile with BuildKit's parser, the build context after
.dockerignore, and the go.mod/go.work files it copies, and reports findings
with stable IDs (CC001…), a severity, the line and a fix; 'cachecheck help
analyze' lists the rules. A "# cachecheck:ignore ID" comment silences one.
Cache directories come from the Dockerfile's ENV and the base image's
environment, read from its registry for --deps-image and, with
--resolve-bases, for every base; a finding says when one is assumed.
A RUN that builds through make or a script (RUN make build, RUN ./build.sh,
RUN bash -c '...') is followed into the Makefile or script in the build
context, and the rules apply to the go commands found there; a step that
cannot be read is reported as CC013.
A mechanical fix comes with edits (JSON "edits", SARIF "fixes"), which its
fix text describes: --fix applies every finding's edits at once, analyzes
the result again, and writes the Dockerfile (and .dockerignore) in place,
atomically; --diff prints them as a unified diff and writes nothing.
With --base it predicts, instruction by instruction, which layers a build of
the head reuses after a build of the base, and why the first miss misses,
as BuildKit decides or, with --classic-builder, as the classic docker
builder does (it caches every instruction, so a changed ENV or LABEL
misses with everything after it).

# cachecheck report

	cachecheck report --base REV [--head REV] [--to TARGET] [--deps-base REF] [--build-cache [--build-flags FLAGS]]
	                  [--bench FILE.json] [--build-log [NAME=]FILE ...] [--format markdown|text|json] [--fail-on CONDITION ...] [DIR]

Report compares a pull request with its base: the keys and how they differ,
whether the deps image for the head key is published (without --deps-base,
on any base, which it names; or the nearest one), the Dockerfile findings
introduced or fixed and the predicted layer cache (without --file, of the
Dockerfile found as warm --build-cache finds it, else one line says why none
was analysed),
and build timings from bench JSON or build logs. A registry that cannot be
reached is reported "not checked". With --build-cache the head key is
looked up as 'ref --build-cache' does; when the image found holds a build
cache, the report says what it was compiled for and, in one sentence per go
build of the head Dockerfile that cannot use it, which settings differ
(rule CC012's comparison). --fail-on takes new-finding=SEVERITY, deps-miss,
key-changed, build-cache-mismatch and slower-than=N%.

# cachecheck bench

	cachecheck bench --builder buildkit|buildah|podman|docker|docker-buildkit|go --to TARGET [-n RUNS]
	                 [--bump MODULE@VERSION] [--no-build-cache] [--format text|markdown|json] [--chart FILE.svg] [--logs DIR] [CONTEXT]

Bench runs real builds of the Dockerfile in CONTEXT, each scenario RUNS
times: without the deps image and with it (no layer cache), with the deps
image warmed with a build cache for the Dockerfile's go build (skipped, with
the reason, when warm refuses it; off with --no-build-cache), a one-file
code change, and with --bump a dependency change. --builder docker is the
classic docker builder, which refuses RUN --mount and the other RUN flags:
its builds run without them. --builder docker-buildkit is docker build with
DOCKER_BUILDKIT=1. --builder go times the
plain go command with and without the module cache and build cache from the
deps image. --format json writes a document of "kind" "bench", which
report --bench reads.

# Output formats

--format text (the default) prints for people; --format json prints one
JSON document with a "protocol_version" field (now 1) and a "kind", which
names its shape: "key", "key-diff", "warm", "warm-all", "ref", "report", ….
Fields are only ever added within a protocol version, with one exception
made when the kinds came: report's "dockerfile" section holds its layer-cache
prediction as a "prediction" document, the one analyze --base prints, in
place of its former "stages", "first_miss" and "download_reused". For key:

	{"protocol_version": 1, "kind": "key", "key": "ck1-…", "dir": ".", "workspace": false, "inputs": ["schema 1", …]}

for key --diff:

	{"protocol_version": 1, "kind": "key-diff", "old": {"key": "ck1-…", "source": "HEAD"}, "new": {…}, "same": false, "changes": ["go 1.22 -> 1.23", …]}

for warm (each unit of warm --all, kind "warm-all", holds one in "warm"):

	{"protocol_version": 1, "kind": "warm", "key": "ck1-…", "tag": "ck1-…", "target": "…", "ref": "…", "digest": "sha256:…",
	 "hit": false, "modules": 41, "layers": {"new": 3, "reused": 13}, "bytes": {"raw": …, "compressed": …, "written": …},
	 "seconds": {"download": 3.5, …, "total": 46.4}, "build_cache": {…}}

warm --all --check prints kind "warm-check" (each unit's "result":
"present", "missing" or "failed"); warm --all --plan --format json prints
no document but the CI matrix itself, on one line:

	{"include":[{"shard":"1/4"},{"shard":"2/4"},{"shard":"3/4"},{"shard":"4/4"}]}

and for ref:

	{"protocol_version": 1, "kind": "ref", "key": "ck1-…", "tag": "ck1-…", "target": "…", "ref": "…",
	 "match": "exact|nearest|fallback", "shared_modules": 41, "wanted_modules": 43, "build_cache": null}

'cachecheck render' renders any of them again (see above).

analyze also writes SARIF 2.1.0 (--format sarif) for code-scanning
annotations; report, bench, warm and key --diff also write markdown for
pull-request comments.

Errors go to standard error as one line starting with "cachecheck: ", naming
the file and line (go.mod:12: …) or the module (path@version: …).

# Exit codes

	0  success
	1  failure: bad input, a failed download, an unreachable registry, …
	2  usage: an unknown command or flag, a bad flag value or combination
	3  findings or conditions over the --fail-on threshold
*/
package main
