#!/usr/bin/env bash
# bench.sh measures cachecheck warm against a loopback registry on a real
# module set, in one run, and prints:
#   - packing + push (warm's pack and publish phases) against the matching
#     `tar | compressor` pipeline over the same module cache (target: ratio
#     at most 1.15);
#   - the wall time of a hit, a whole `cachecheck warm` process (target:
#     under 0.5 s);
#   - the bytes uploaded after bumping one module against the full image
#     (target: under 10%).
#
# Usage: CACHECHECK_REGISTRY=127.0.0.1:5801 internal/publish/bench.sh [MODULE@VERSION [BUMP@VERSION]]
# REPS=N (default 3) runs each pipeline and each warm N times, interleaved,
# and compares the medians: a single run on a shared machine is noisy.
# The defaults are k8s.io/client-go@v0.31.0 (its own go.mod: 56 modules,
# 220 MB extracted) and the bump golang.org/x/time@v0.5.0 (from v0.3.0).
# Any registry on loopback will do; .ci/setup.d/10-registry.sh starts one.
# Needs the Go module proxy, tar, pigz, zstd and bc (benchlib.sh checks).
# WORK=dir keeps the downloads between runs.
set -euo pipefail

mod=${1:-k8s.io/client-go@v0.31.0}
bump=${2:-golang.org/x/time@v0.5.0}
reg=${CACHECHECK_REGISTRY:?set CACHECHECK_REGISTRY to a loopback registry, e.g. 127.0.0.1:5801}
# shellcheck source=SCRIPTDIR/../tools/benchlib.sh
source "$(dirname "$0")/../tools/benchlib.sh"
bench_setup bench.sh tar pigz zstd bc du find
# The same module cache warm packs, for the baseline pipelines, read once.
bench_module_cache
echo "module: $mod; cache: $(du -sh --exclude=vcs "$work/cache" | cut -f1), $(find "$work/cache/cache/download" -name '*.zip' | wc -l) modules; $(nproc) CPUs; registry $reg"

# field NAME FILE: the number after "NAME": in warm's JSON.
field() { sed -n "s/^ *\"$1\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$2" | head -1; }

run_id=$(date +%s)
reps=${REPS:-3}
echo "each pipeline and warm $reps times, interleaved; the ratio is of the medians"
printf '%-26s %9s %9s %9s %7s\n' "" seconds "MB out" "MB sent" ratio
for c in gzip zstd; do
	case $c in
	gzip) base="pigz -6 -p $(nproc)"; label="tar | pigz -6 -p $(nproc)" ;;
	zstd) base="zstd -3 -T0 -q"; label="tar | zstd -3 -T0" ;;
	esac
	: >"$work/base-$c"; : >"$work/warm-$c"
	for i in $(seq "$reps"); do
		start=$(bench_now)
		bbytes=$(tar -C "$work/cache" --exclude=./cache/vcs -cf - . | $base | wc -c)
		bsecs=$(bench_since "$start")
		echo "$bsecs" >>"$work/base-$c"
		printf '%-26s %9.2f %9.1f %9s %7s\n' "$label" "$bsecs" "$(echo "$bbytes / 1000000" | bc -l)" - -
		repo="$reg/bench/$c-$run_id-$i"
		(cd "$work/src" && "$cc" warm --to "$repo" --compression "$c" --format json) > "$work/warm-$c.json"
		pack=$(field "pack+upload" "$work/warm-$c.json"); pub=$(field publish "$work/warm-$c.json")
		secs=$(echo "$pack + $pub" | bc -l)
		echo "$secs" >>"$work/warm-$c"
		printf '%-26s %9.2f %9.1f %9.1f %7s   (pack+upload %.2f s + publish %.2f s; download %.2f s not counted; load %s)\n' "cachecheck warm $c" "$secs" \
			"$(echo "$(field compressed "$work/warm-$c.json") / 1000000" | bc -l)" "$(echo "$(field written "$work/warm-$c.json") / 1000000" | bc -l)" \
			- "$pack" "$pub" "$(field download "$work/warm-$c.json")" "$(cut -d' ' -f1 /proc/loadavg)"
	done
	b=$(bench_median <"$work/base-$c"); w=$(bench_median <"$work/warm-$c")
	printf '%-26s %9.2f vs %.2f s: ratio %.2f (target: at most 1.15)\n' "median $c" "$w" "$b" "$(echo "$w / $b" | bc -l)"
done

# A hit: the whole process, key to answer.
repo="$reg/bench/gzip-$run_id-1"
start=$(bench_now)
(cd "$work/src" && "$cc" warm --to "$repo" -q >/dev/null)
echo "hit (whole cachecheck warm process): $(printf '%.3f' "$(bench_since "$start")") s"

# Bump one module and warm again to the same repository.
rm -rf "$work/src2"
cp -r "$work/src" "$work/src2"
(cd "$work/src2" && GOMODCACHE="$work/srccache" GOFLAGS=-modcacherw bench_quiet go get "$bump" && GOMODCACHE="$work/srccache" GOFLAGS=-modcacherw bench_quiet go mod tidy)
(cd "$work/src2" && "$cc" warm --to "$repo" --format json) > "$work/warm-bump.json"
full=$(field written "$work/warm-gzip.json"); bumped=$(field written "$work/warm-bump.json")
echo "bump $bump: uploaded $(printf '%.2f' "$(echo "$bumped / 1000000" | bc -l)") MB of the full image's $(printf '%.1f' "$(echo "$full / 1000000" | bc -l)") MB: $(printf '%.2f' "$(echo "100 * $bumped / $full" | bc -l)")%; layers $(field new "$work/warm-bump.json") new, $(field reused "$work/warm-bump.json") reused"
