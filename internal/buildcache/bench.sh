#!/bin/sh
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
# download and runs as any user: the build uses -trimpath, so the module
# cache may lie anywhere.
set -eu
export LC_ALL=C
MOD=${1:-github.com/prometheus/prometheus@v0.316.0}
PKG=${2:-./cmd/prometheus}
RUNS=${3:-3}
FLAGS="CGO_ENABLED=0 -trimpath"
repo=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

go build -o "$W/cachecheck" "$repo/cmd/cachecheck"
go build -o "$W/critpath" "$repo/internal/buildcache/critpath"
dir=$(GOFLAGS=-mod=mod GOMODCACHE="$W/src-cache" go mod download -json "$MOD" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
cp -r "$dir" "$W/src"
chmod -R u+w "$W/src" "$W/src-cache"
cd "$W/src"
# A module zip leaves out nested modules a go.work may name.
rm -f go.work go.work.sum
export GOWORK=off

t=$(now)
"$W/cachecheck" warm --to "tarball:$W/deps.tar" --layers 4 --build-cache --build-flags "$FLAGS" >"$W/warm.txt"
echo "warm --build-cache: $(since "$t") s"
grep -E 'modules|build cache|bytes compressed' "$W/warm.txt" | sed 's/[│┌┐└┘├┤─]//g; s/  */ /g'

mkdir "$W/img" "$W/root"
tar -xf "$W/deps.tar" -C "$W/img"
sed 's/.*"Layers":\[\([^]]*\)\].*/\1/; s/[",]/ /g' "$W/img/manifest.json" | tr ' ' '\n' | while read -r l; do
	[ -z "$l" ] || tar -xzf "$W/img/$l" -C "$W/root" 2>/dev/null
done
echo "build cache in the image: $(du -sb "$W/root/root/.cache/go-build" | cut -f1) bytes, $(find "$W/root/root/.cache/go-build" -name '*-a' | wc -l) entries"

export GOMODCACHE="$W/root/go/pkg/mod" GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
main=$(go list -f '{{.Dir}}' "$PKG")/$(go list -f '{{index .GoFiles 0}}' "$PKG")

build() { # build NAME GOCACHE
	echo "// change $1 $(now)" >>"$main"
	t=$(now)
	GOCACHE=$2 go build -trimpath -v -debug-actiongraph="$W/$1.json" -o "$W/bin" "$PKG" 2>"$W/$1.log"
	since "$t"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$W/modonly"; : >"$W/withcache"
for i in $(seq "$RUNS"); do
	rm -rf "$W/gocache-empty"; mkdir "$W/gocache-empty"
	build "modonly$i" "$W/gocache-empty" >>"$W/modonly"
	rm -rf "$W/gocache-img"; cp -a "$W/root/root/.cache/go-build" "$W/gocache-img"
	build "withcache$i" "$W/gocache-img" >>"$W/withcache"
done
a=$(median <"$W/modonly"); b=$(median <"$W/withcache")
deps=$(go list -deps -f '{{if not (and .Module .Module.Main)}}{{.ImportPath}}{{end}}' "$PKG" | sort)
printf '%s\n' "$deps" >"$W/deps.txt"
compiled=$(sort "$W/withcache1.log" | comm -12 - "$W/deps.txt" || true)
echo "packages compiled with the image's build cache: $(wc -l <"$W/withcache1.log") ($(printf '%s' "$compiled" | grep -c . || true) of them dependencies)"
echo "packages compiled with the module cache only: $(wc -l <"$W/modonly1.log")"
echo "module cache only, each run: $(tr '\n' ' ' <"$W/modonly")"
echo "module + build cache, each run: $(tr '\n' ' ' <"$W/withcache")"
echo "where the build with the image's build cache spends its time (the first run):"
"$W/critpath" "$W/withcache1.json"
echo "go build $PKG after a one-file change, median of $RUNS: module cache only $a s; module + build cache $b s; $(echo "scale=1; $a / $b" | bc)x faster"
