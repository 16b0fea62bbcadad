#!/usr/bin/env bash
# bench.sh measures what the build cache layer of a deps image saves: the
# time of `go build` of a real module's main package, after a one-file
# change to it, with the plain go command, offline, against the unpacked
# deps image — module cache only (GOCACHE empty, what a module-cache deps
# image gives) against module cache plus the image's build cache.
#
#	internal/buildcache/bench.sh [MODULE@VERSION [PACKAGE [RUNS]]]
#
# The default is github.com/prometheus/prometheus@v0.316.0 ./cmd/prometheus
# (251 modules), 3 runs each. It needs the module proxy (GOPROXY) for the
# download, tar and bc (benchlib.sh checks), and runs as any user: the
# build uses -trimpath, so the module cache may lie anywhere. WORK=dir
# keeps the downloads between runs.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # also when started as 'sh bench.sh'
set -euo pipefail
export LC_ALL=C
mod=${1:-github.com/prometheus/prometheus@v0.316.0}
PKG=${2:-./cmd/prometheus}
RUNS=${3:-3}
FLAGS="CGO_ENABLED=0 -trimpath"
# shellcheck source=SCRIPTDIR/../tools/benchlib.sh
source "$(dirname "$0")/../tools/benchlib.sh"
bench_setup bench.sh tar bc awk comm du find
W=$work
go build -o "$W/critpath" "$root/internal/buildcache/critpath"
cd "$W/src"

t=$(bench_now)
# What a kept WORK holds from an earlier run (a module cache is read-only).
[ ! -e "$W/root" ] || chmod -R u+w "$W/root"
rm -rf "$W/deps.tar" "$W/img" "$W/root"
"$cc" warm --to "tarball:$W/deps.tar" --layers 4 --build-cache --build-flags "$FLAGS" >"$W/warm.txt"
echo "warm --build-cache: $(bench_since "$t") s"
grep -E 'modules|build cache|bytes compressed' "$W/warm.txt" | sed 's/[│┌┐└┘├┤─]//g; s/  */ /g'

mkdir "$W/img" "$W/root"
tar -xf "$W/deps.tar" -C "$W/img"
sed 's/.*"Layers":\[\([^]]*\)\].*/\1/; s/[",]/ /g' "$W/img/manifest.json" | tr ' ' '\n' | while read -r l; do
	# The build cache's entries are dated 2100 (buildcache.KeepTime), which
	# GNU tar warns about, one line an entry: that warning only is left out.
	[ -z "$l" ] || tar --warning=no-timestamp -xf "$W/img/$l" -C "$W/root"
done
echo "build cache in the image: $(du -sb "$W/root/root/.cache/go-build" | cut -f1) bytes, $(find "$W/root/root/.cache/go-build" -name '*-a' | wc -l) entries"

export GOMODCACHE="$W/root/go/pkg/mod" GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
main=$(go list -f '{{.Dir}}' "$PKG")/$(go list -f '{{index .GoFiles 0}}' "$PKG")

build() { # build NAME GOCACHE
	echo "// change $1 $(bench_now)" >>"$main"
	t=$(bench_now)
	GOCACHE=$2 go build -trimpath -v -debug-actiongraph="$W/$1.json" -o "$W/bin" "$PKG" 2>"$W/$1.log" || { cat "$W/$1.log" >&2; exit 1; }
	bench_since "$t"
}

: >"$W/modonly"; : >"$W/withcache"
for i in $(seq "$RUNS"); do
	rm -rf "$W/gocache-empty"; mkdir "$W/gocache-empty"
	build "modonly$i" "$W/gocache-empty" >>"$W/modonly"
	rm -rf "$W/gocache-img"; cp -a "$W/root/root/.cache/go-build" "$W/gocache-img"
	build "withcache$i" "$W/gocache-img" >>"$W/withcache"
done
a=$(bench_median <"$W/modonly"); b=$(bench_median <"$W/withcache")
deps=$(go list -deps -f '{{if not (and .Module .Module.Main)}}{{.ImportPath}}{{end}}' "$PKG" | sort)
printf '%s\n' "$deps" >"$W/deps.txt"
compiled=$(sort "$W/withcache1.log" | comm -12 - "$W/deps.txt")
echo "packages compiled with the image's build cache: $(wc -l <"$W/withcache1.log") ($(printf '%s\n' "$compiled" | sed '/^$/d' | wc -l) of them dependencies)"
echo "packages compiled with the module cache only: $(wc -l <"$W/modonly1.log")"
echo "module cache only, each run: $(tr '\n' ' ' <"$W/modonly")"
echo "module + build cache, each run: $(tr '\n' ' ' <"$W/withcache")"
echo "where the build with the image's build cache spends its time (the first run):"
"$W/critpath" "$W/withcache1.json"
echo "go build $PKG after a one-file change, median of $RUNS: module cache only $a s; module + build cache $b s; $(echo "scale=1; $a / $b" | bc)x faster"
