#!/usr/bin/env bash
# bench.sh measures packing a real module cache into deps layers against
# `tar | compressor` pipelines over the same cache, in one run, and prints
# the ratios (target: at most 1.15), the peak memory (target: under 200 MB)
# and the bytes re-uploaded after bumping one module for several bucket
# counts.
#
# Usage: internal/depsimage/bench.sh [MODULE@VERSION]
# The default is the latest github.com/prometheus/prometheus, whose own
# go.mod is downloaded (about 250 modules, 1.7 GB extracted). Needs the Go
# module proxy, tar, pigz, zstd, bc and GNU time (benchlib.sh checks).
# WORK=dir keeps the downloads between runs; BUCKETS="1 4" sets the bucket
# counts of the last table.
set -euo pipefail

mod=${1:-github.com/prometheus/prometheus@latest}
pkgdir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../tools/benchlib.sh
source "$pkgdir/../tools/benchlib.sh"
bench_setup bench.sh tar pigz zstd bc du find /usr/bin/time
# The module cache the benchmarks pack, for them and the baselines, read once.
bench_module_cache
echo "module: $mod; cache: $(du -sh "$work/cache" | cut -f1) in $(find "$work/cache/cache/download" -name '*.zip' | wc -l) modules; $(nproc) CPUs"

(cd "$pkgdir" && go test -c -o "$work/depsimage.test" .)
export DEPSIMAGE_BENCH_DIR="$work/src" DEPSIMAGE_BENCH_CACHE="$work/cache"

# baseline PIPELINE runs a shell pipeline and prints its wall time and the
# bytes it wrote; a stage that fails fails the script.
baseline() {
	local start bytes
	start=$(bench_now)
	bytes=$(bash -o pipefail -c "$1" | wc -c)
	echo "$(bench_since "$start") $bytes"
}

# pack OPTS prints "seconds compressed-bytes peak-RSS-MB" of BenchmarkPack.
pack() {
	local out
	out=$(DEPSIMAGE_BENCH_OPTS="$1" /usr/bin/time -v "$work/depsimage.test" -test.run '^$' -test.bench BenchmarkPack -test.benchtime 1x 2>&1) || { echo "$out" >&2; exit 1; }
	local line rss
	line=$(grep '^depsbench: pack' <<<"$out") || { echo "$out" >&2; exit 1; }
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' <<<"$out")
	sed -E 's/.*seconds=([0-9.]+) raw=[0-9]+ compressed=([0-9]+) layers=([0-9]+).*/\1 \2 \3/' <<<"$line" | tr '\n' ' '
	echo $((rss / 1024))
}

tarcmd="tar -C '$work/cache' --exclude=./cache/vcs -cf - ."
printf '%-34s %9s %11s %8s %7s %7s\n' "packing (contents full)" seconds "MB out" "RSS MB" layers ratio
for c in gzip zstd; do
	case $c in
	gzip) base="$tarcmd | pigz -6 -p $(nproc)"; label="tar | pigz -6 -p $(nproc)" ;;
	zstd) base="$tarcmd | zstd -3 -T0 -q"; label="tar | zstd -3 -T0" ;;
	esac
	# An assignment, so that a failure stops the script; read <<<"$(...)" would not.
	out=$(baseline "$base")
	read -r bsecs bbytes <<<"$out"
	printf '%-34s %9.2f %11.1f %8s %7s %7s\n' "$label" "$bsecs" "$(echo "$bbytes / 1000000" | bc -l)" - - 1.00
	for level in "" 1; do
		out=$(pack "compression=$c contents=full ${level:+level=$level}")
		read -r secs bytes layers rss <<<"$out"
		printf '%-34s %9.2f %11.1f %8d %7d %7.2f\n' "cachecheck $c${level:+ level $level}" "$secs" "$(echo "$bytes / 1000000" | bc -l)" "$rss" "$layers" "$(echo "$secs / $bsecs" | bc -l)"
	done
done
printf '\n%-34s %9s %11s %8s %7s\n' "packing (contents zips)" seconds "MB out" "RSS MB" layers
for c in gzip zstd; do
	out=$(pack "compression=$c contents=zips")
	read -r secs bytes layers rss <<<"$out"
	printf '%-34s %9.2f %11.1f %8d %7d\n' "cachecheck $c zips" "$secs" "$(echo "$bytes / 1000000" | bc -l)" "$rss" "$layers"
done

echo
echo "bytes a registry receives again after bumping one module (zstd, contents full):"
printf '%8s %7s %12s %14s %14s %8s\n' buckets layers "total MB" "avg bump MB" "max bump MB" "avg %"
DEPSIMAGE_BENCH_OPTS="compression=zstd contents=full" DEPSIMAGE_BENCH_BUCKETS="${BUCKETS:-1 4 8 16 32 64}" \
	"$work/depsimage.test" -test.run '^$' -test.bench BenchmarkBuckets -test.benchtime 1x |
	sed -n 's/^depsbench: buckets //p' |
	while read -r n layers total avg max _; do
		n=${n#n=}; layers=${layers#layers=}; total=${total#total=}; avg=${avg#bump-avg=}; max=${max#bump-max=}
		printf '%8d %7d %12.1f %14.1f %14.1f %8.1f\n' "$n" "$layers" "$(echo "$total/1000000" | bc -l)" "$(echo "$avg/1000000" | bc -l)" "$(echo "$max/1000000" | bc -l)" "$(echo "100*$avg/$total" | bc -l)"
	done
