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
# module proxy, tar, gzip, pigz and zstd (apt-get install pigz zstd).
# WORK=dir keeps the downloads between runs.
set -euo pipefail

mod=${1:-github.com/prometheus/prometheus@latest}
pkgdir=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
for tool in tar pigz zstd /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench.sh: $tool is missing: apt-get install pigz zstd time" >&2; exit 1; }
done

# The module's own source and its module cache.
if [ ! -d "$work/src" ]; then
	dir=$(GOMODCACHE="$work/srccache" GOFLAGS=-modcacherw go mod download -json "$mod" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	cp -r "$dir" "$work/src"
	chmod -R u+w "$work/src"
	rm -f "$work/src/go.work" "$work/src/go.work.sum" # its nested modules are not in the zip
	echo "$mod" > "$work/module"
fi
# A WORK kept from an earlier run holds the module it was made for.
[ -f "$work/module" ] && mod=$(cat "$work/module")
if [ ! -d "$work/cache" ]; then
	start=$(date +%s.%N)
	(cd "$work/src" && GOMODCACHE="$work/cache" GOWORK=off go mod download)
	echo "cold go mod download: $(echo "$(date +%s.%N) - $start" | bc) s"
fi
echo "module: $mod; cache: $(du -sh "$work/cache" | cut -f1) in $(find "$work/cache/cache/download" -name '*.zip' | wc -l) modules; $(nproc) CPUs"

(cd "$pkgdir" && go test -c -o "$work/depsimage.test" .)
export DEPSIMAGE_BENCH_DIR="$work/src" DEPSIMAGE_BENCH_CACHE="$work/cache"

# baseline PIPELINE runs a shell pipeline and prints its wall time and the
# bytes it wrote.
baseline() {
	local start bytes
	start=$(date +%s.%N)
	bytes=$(bash -c "$1" | wc -c)
	echo "$(echo "$(date +%s.%N) - $start" | bc) $bytes"
}

# pack OPTS prints "seconds compressed-bytes peak-RSS-MB" of BenchmarkPack.
pack() {
	local out
	out=$(DEPSIMAGE_BENCH_OPTS="$1" /usr/bin/time -v "$work/depsimage.test" -test.run '^$' -test.bench BenchmarkPack -test.benchtime 1x 2>&1)
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
	read -r bsecs bbytes <<<"$(baseline "$base")"
	printf '%-34s %9.2f %11.1f %8s %7s %7s\n' "$label" "$bsecs" "$(echo "$bbytes / 1000000" | bc -l)" - - 1.00
	for level in "" 1; do
		read -r secs bytes layers rss <<<"$(pack "compression=$c contents=full ${level:+level=$level}")"
		printf '%-34s %9.2f %11.1f %8d %7d %7.2f\n' "cachecheck $c${level:+ level $level}" "$secs" "$(echo "$bytes / 1000000" | bc -l)" "$rss" "$layers" "$(echo "$secs / $bsecs" | bc -l)"
	done
done
printf '\n%-34s %9s %11s %8s %7s\n' "packing (contents zips)" seconds "MB out" "RSS MB" layers
for c in gzip zstd; do
	read -r secs bytes layers rss <<<"$(pack "compression=$c contents=zips")"
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
