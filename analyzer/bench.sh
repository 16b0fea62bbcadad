#!/usr/bin/env bash
# bench.sh measures `cachecheck analyze` on a large build context on disk
# against the physical floor of listing its files (find over the whole
# context, and over what is left once the directories the .dockerignore
# excludes are pruned), and prints the wall time and peak RSS of each
# (target for analyze: under 1 s and 100 MB on a 200,000-file context).
# analyze runs twice: with the context's .dockerignore, whose exceptions
# are plain paths, so that excluded directories are skipped as BuildKit
# skips them, and with a Dockerfile.wild.dockerignore that adds a wildcard
# exception ("!**/LICENSE"), which makes BuildKit, and analyze, walk every
# excluded directory.
#
#	analyzer/bench.sh [FILES [RUNS]]
#
# FILES (default 200000) is the size of the generated context, RUNS
# (default 5) the runs of each command; the medians are printed. The
# context looks like a real repository: a .git of loose objects, a web/
# app with a deep node_modules tree, a vendor/ tree with modules.txt,
# services and packages in many directories, docs, and a .dockerignore
# with wildcard patterns and "!" exceptions, built with
# `RUN make build` through a Makefile that includes another, whose go
# build leaves cgo on for a scratch image (one CC008 to find). It needs
# find, awk, xargs, bc and GNU time (benchlib.sh checks). WORK=dir keeps
# the generated context between runs.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # also when started as 'sh bench.sh'
set -euo pipefail
export LC_ALL=C
FILES=${1:-200000}
RUNS=${2:-5}
mod=''
# shellcheck source=SCRIPTDIR/../internal/tools/benchlib.sh
source "$(dirname "$0")/../internal/tools/benchlib.sh"
bench_setup bench.sh find awk xargs bc sort /usr/bin/time
ctx=$work/ctx2-$FILES

# put NAME writes stdin to the context file NAME.
put() { mkdir -p "$(dirname "$ctx/$1")" && cat >"$ctx/$1"; }

if [ ! -f "$ctx/.complete" ]; then
	rm -rf "$ctx"
	mkdir -p "$ctx"
	put go.mod <<-'EOF'
		module example.com/platform

		go 1.22

		require (
			github.com/org0/repo0 v1.0.0
			github.com/org1/repo1 v1.0.0
		)

		replace example.com/platform/tools => ./tools
	EOF
	put go.sum <<-'EOF'
		github.com/org0/repo0 v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
		github.com/org0/repo0 v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
		github.com/org1/repo1 v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
		github.com/org1/repo1 v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
	EOF
	put tools/go.mod <<<'module example.com/platform/tools'
	put vendor/modules.txt <<-'EOF'
		# github.com/org0/repo0 v1.0.0
		## explicit
		github.com/org0/repo0/pkg0
		# github.com/org1/repo1 v1.0.0
		## explicit
		github.com/org1/repo1/pkg0
	EOF
	put .dockerignore <<-'EOF'
		# build outputs and editor files
		.git
		**/node_modules
		**/*.log
		**/*.tmp
		bin/
		docs/
		!docs/openapi.yaml
		*.md
		!README.md
	EOF
	# Recipe lines start with a tab, which <<- would strip.
	printf '%s\n' 'include make/common.mk' '' '.PHONY: build generate' 'build: generate' \
		"	\$(GO) build \$(GOFLAGS) -ldflags '\$(LDFLAGS)' -o bin/platform ./cmd/platform" \
		'' 'generate:' "	\$(GO) generate ./internal/..." | put Makefile
	put make/common.mk <<-'EOF'
		GO ?= go
		GOFLAGS ?= -mod=vendor -trimpath
		VERSION ?= dev
		LDFLAGS := -s -w -X main.version=$(VERSION)
		export GOTOOLCHAIN := local
	EOF
	put Dockerfile <<-'EOF'
		# syntax=docker/dockerfile:1
		ARG GO_VERSION=1.22
		FROM golang:${GO_VERSION}-bookworm AS build
		WORKDIR /src
		COPY go.mod go.sum ./
		COPY tools/go.mod tools/
		COPY vendor/ vendor/
		COPY . .
		RUN --mount=type=cache,target=/root/.cache/go-build make build VERSION=1.0

		FROM scratch
		COPY --from=build /src/bin/platform /platform
		ENTRYPOINT ["/platform"]
	EOF
	# The same build with one exception more, a wildcard: BuildKit then
	# walks every excluded directory, .git and node_modules included.
	cp "$ctx/Dockerfile" "$ctx/Dockerfile.wild"
	{ cat "$ctx/.dockerignore" && echo '!**/LICENSE'; } | put Dockerfile.wild.dockerignore
	echo 'package main' | put cmd/platform/main.go
	echo '# platform' | put README.md
	echo 'openapi: 3.1.0' | put docs/openapi.yaml
	# The bulk: empty files (analyze lists them, it reads none), in the
	# shares of a large repository, each path once.
	awk -v n="$FILES" 'BEGIN {
		git = int(n * 0.10); nm = int(n * 0.30); vend = int(n * 0.20); docs = int(n * 0.05)
		src = n - git - nm - vend - docs - 14 # the files written above, and .complete
		for (i = 0; i < git; i++) printf ".git/objects/%02x/%038x\n", i % 256, i
		for (i = 0; i < nm; i++)
			printf "web/node_modules/@scope%d/pkg%d/dist/esm/lib/sub%d/file%d.js\n", i % 7, int(i / 100) % 300, i % 4, i
		for (i = 0; i < vend; i++)
			printf "vendor/github.com/org%d/repo%d/pkg%d/file%d.go\n", i % 40, int(i / 40) % 10, int(i / 4000) % 10, i
		for (i = 0; i < docs; i++) printf "docs/section%d/page%d.md\n", i % 30, i
		for (i = 0; i < src; i++) {
			ext = (i % 10 == 9) ? "_test.go" : ".go"
			if (i % 97 == 0) ext = ".log"
			printf "internal/svc%d/pkg%d/sub%d/file%d%s\n", i % 60, int(i / 60) % 20, int(i / 1200) % 5, i, ext
		}
	}' >"$work/paths"
	(cd "$ctx" && awk '{ sub("/[^/]*$", ""); print }' "$work/paths" | sort -u | xargs mkdir -p)
	(cd "$ctx" && xargs touch <"$work/paths")
	touch "$ctx/.complete"
fi
# .complete is one of the files; the context has FILES files.
total=$(find "$ctx" -type f | wc -l)
dirs=$(find "$ctx" -type d | wc -l)
echo "context: $total files in $dirs directories; $(nproc) CPUs"

# measure CMD... runs CMD RUNS times under GNU time and prints the median
# wall seconds, the median CPU seconds (user + system: on a machine shared
# with other jobs, the wall time also holds the waits for a core) and the
# median peak RSS in MB; the first, untimed run warms the page and
# directory caches, as a CI runner's checkout leaves them.
measure() {
	"$@" >/dev/null 2>&1 || { echo "bench.sh: $* failed" >&2; exit 1; }
	local i out secs=() cpu=() rss=()
	for ((i = 0; i < RUNS; i++)); do
		/usr/bin/time -o "$work/time" -f 'time %e %U %S %M' "$@" >/dev/null 2>&1 || { echo "bench.sh: $* failed" >&2; exit 1; }
		out=$(grep '^time ' "$work/time") || { echo "bench.sh: no GNU time output from $*" >&2; exit 1; }
		read -r _ e u s m <<<"$out"
		secs+=("$e")
		cpu+=("$(echo "$u + $s" | bc)")
		rss+=("$m")
	done
	echo "$(printf '%s\n' "${secs[@]}" | bench_median) $(printf '%s\n' "${cpu[@]}" | bench_median) $(($(printf '%s\n' "${rss[@]}" | bench_median) / 1024))"
}

# A finding at any severity is exit code 3: check that analyze ran.
set +e
"$cc" analyze --fail-on none "$ctx" >"$work/findings.txt" 2>&1
rc=$?
set -e
[ "$rc" -eq 0 ] || { echo "bench.sh: cachecheck analyze exited $rc:" >&2; cat "$work/findings.txt" >&2; exit 1; }
echo "findings: $(grep -oE 'CC0[0-9][0-9]' "$work/findings.txt" | sort | uniq -c | awk '{printf "%s %s×%s", sep, $2, $1; sep = ","}')"

# The floors: listing every file, and listing the files outside the
# directories the .dockerignore lets the walker skip.
read -r fsecs fcpu frss <<<"$(measure sh -c "find '$ctx' -type f | wc -l")"
read -r psecs pcpu prss <<<"$(measure sh -c "find '$ctx' \\( -path '$ctx/.git' -o -name node_modules \\) -prune -o -type f -print | wc -l")"
read -r asecs acpu arss <<<"$(measure "$cc" analyze --fail-on none "$ctx")"
read -r wsecs wcpu wrss <<<"$(measure "$cc" analyze --fail-on none -f "$ctx/Dockerfile.wild" "$ctx")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %8s %8s %8s %7s %7s\n' "$FILES-file context, median of $RUNS" wall "CPU s" "RSS MB" ratio "CPU r."
row() { printf '%-44s %8.2f %8.2f %8s %7s %7s\n' "$@"; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
row "find CONTEXT -type f | wc -l" "$fsecs" "$fcpu" "$frss" 1.00 1.00
row "  the same, .git and node_modules pruned" "$psecs" "$pcpu" "$prss" 1.00 1.00
row "cachecheck analyze CONTEXT (vs pruned find)" "$asecs" "$acpu" "$arss" "$(ratio "$asecs" "$psecs")" "$(ratio "$acpu" "$pcpu")"
row "  with a '!**/' exception (vs full find)" "$wsecs" "$wcpu" "$wrss" "$(ratio "$wsecs" "$fsecs")" "$(ratio "$wcpu" "$fcpu")"
ok=yes
for r in "$asecs $arss" "$wsecs $wrss"; do
	read -r secs rss <<<"$r"
	[ "$(echo "$secs < 1" | bc)" -eq 1 ] && [ "$rss" -lt 100 ] || ok=no
done
echo "target (analyze under 1 s wall and 100 MB): $ok"
