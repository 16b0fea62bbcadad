# shellcheck shell=bash
# benchlib.sh is sourced by bench.sh and contents.sh, after they set mod
# (MODULE@VERSION). bench_setup NAME TOOL... checks the tools, makes WORK
# (a temporary directory unless set), builds cachecheck into it ($cc), and
# puts the module's source in $work/src, where a WORK kept from an earlier
# run already has it: mod is then the module that run fetched.
bench_setup() {
	local name=$1
	shift
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	work=${WORK:-$(mktemp -d)}
	mkdir -p "$work"
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "$name: $tool is missing: apt-get install $*" >&2; exit 1; }
	done
	export GOWORK=off GOFLAGS='' GOTOOLCHAIN=local
	unset SOURCE_DATE_EPOCH

	(cd "$root" && go build -o "$work/cachecheck" ./cmd/cachecheck)
	# shellcheck disable=SC2034 # cc is for the scripts that source this file
	cc="$work/cachecheck"

	if [ ! -d "$work/src" ]; then
		local dir
		dir=$(GOMODCACHE="$work/srccache" GOFLAGS=-modcacherw go mod download -json "$mod" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		cp -r "$dir" "$work/src"
		chmod -R u+w "$work/src"
		# A module zip leaves out nested modules a go.work may name.
		rm -f "$work/src/go.work" "$work/src/go.work.sum"
		echo "$mod" > "$work/module"
	fi
	[ -f "$work/module" ] && mod=$(cat "$work/module")
	return 0
}
