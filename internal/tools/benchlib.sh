# shellcheck shell=bash
# benchlib.sh is sourced by the bench scripts (internal/depsimage/bench.sh,
# internal/buildcache/bench.sh, internal/publish/bench.sh,
# internal/publish/contents.sh and analyzer/bench.sh) after they set mod
# (MODULE@VERSION, or empty for a bench that needs no module source); they
# run under `set -euo pipefail`, and nothing here hides an error.
#
# bench_setup NAME TOOL... checks that the tools are installed,
# makes WORK (a temporary directory, removed on exit, unless WORK is set),
# builds cachecheck into it ($cc), and puts the module's source in
# $work/src, where a WORK kept from an earlier run already has it: mod is
# then the module that run fetched. With mod empty, no source is fetched.
bench_setup() {
	bench_name=$1
	shift
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	bench_need "$@"
	if [ -n "${WORK:-}" ]; then
		work=$WORK
		mkdir -p "$work"
	else
		work=$(mktemp -d)
		# The module caches are read-only: make them writable to remove them.
		trap 'chmod -R u+w "$work" && rm -rf "$work"' EXIT
	fi
	export GOWORK=off GOFLAGS='' GOTOOLCHAIN=local
	unset SOURCE_DATE_EPOCH

	(cd "$root" && go build -o "$work/cachecheck" ./cmd/cachecheck)
	# shellcheck disable=SC2034 # cc is for the scripts that source this file
	cc="$work/cachecheck"

	[ -n "${mod:-}" ] || return 0
	if [ ! -d "$work/src" ]; then
		local dir
		dir=$(GOMODCACHE="$work/srccache" GOFLAGS=-modcacherw go mod download -json "$mod" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		[ -n "$dir" ] || { echo "$bench_name: go mod download -json $mod printed no Dir" >&2; exit 1; }
		cp -r "$dir" "$work/src"
		chmod -R u+w "$work/src"
		# A module zip leaves out nested modules a go.work may name.
		rm -f "$work/src/go.work" "$work/src/go.work.sum"
		echo "$mod" >"$work/module"
	fi
	[ ! -f "$work/module" ] || mod=$(cat "$work/module")
}

# bench_need TOOL... exits, saying what to install, when a tool is missing.
bench_need() {
	local missing=()
	for tool in "$@"; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "${bench_name:-bench}: missing ${missing[*]}: apt-get install $(printf '%s\n' "${missing[@]}" | sed 's#^/usr/bin/time$#time#' | tr '\n' ' ')" >&2
		exit 1
	fi
}

# bench_module_cache downloads the module's dependencies into $work/cache
# (once: a kept WORK has them), then reads the whole cache once, so that
# what is timed next reads it from memory, as warm does (it packs what it
# has just downloaded): a baseline reading from disk would make a ratio
# against it look better than it is. Through a pipe: GNU tar writing
# straight to /dev/null reads no file.
bench_module_cache() {
	if [ ! -d "$work/cache" ]; then
		local start
		start=$(bench_now)
		(cd "$work/src" && GOMODCACHE="$work/cache" go mod download)
		echo "cold go mod download: $(bench_since "$start") s"
	fi
	tar -C "$work/cache" --exclude=./cache/vcs -cf - . | wc -c >/dev/null
}

# bench_now prints the time in seconds; bench_since START the seconds
# since START.
bench_now() { date +%s.%N; }
bench_since() { echo "$(bench_now) - $1" | bc; }

# bench_median prints the median of the numbers on its input, one a line.
bench_median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# bench_quiet CMD... runs a command with its output shown only when it
# fails.
bench_quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		echo "$bench_name: $* failed:" >&2
		echo "$out" >&2
		exit 1
	fi
}
