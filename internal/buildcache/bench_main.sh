#!/usr/bin/env bash
# bench_main.sh measures what the main module's layer of a deps image
# (warm --build-cache=all) saves: the time of `go build` of a real
# module's main package, with the plain go command, offline, against the
# unpacked image, after a one-file change, from the same checked-out
# commit plus that one edit each time. It makes the module's source a git
# repository (a module zip has none) with two commits of fixed author and
# dates, and warms each into an OCI layout, as two nights would: the
# first warm builds everything, the second finds the deps image and
# compiles the main module only. Then, each build from a fresh copy of
# its build cache:
#
#   - a one-file change to PACKAGE: module cache only (GOCACHE empty; one
#     run, it compiles everything), FROM the image (its build cache with
#     the main module's layer), FROM the dependencies-only image (one
#     run, what --build-cache gives), and a warm local build cache (filled
#     by go build of the unchanged tree here): the physical limit;
#   - a change to a deep package (tsdb): FROM the image against warm local;
#   - cgo: the packages a build FROM an image warmed with CGO_ENABLED=1
#     compiles against the same with CGO_ENABLED=0 (CGO=0 skips it).
#
#	internal/buildcache/bench_main.sh [MODULE@VERSION [PACKAGE [RUNS]]]
#
# The default is github.com/prometheus/prometheus@v0.316.0 ./cmd/prometheus,
# 3 runs each; DEEP=./tsdb is the deep package, NIGHTLY=./config the
# package whose first Go file the second commit changes. It needs the
# module proxy (GOPROXY) for the warms, git, jq, gcc for cgo, tar and bc
# (benchlib.sh checks). WORK=dir keeps the downloads between runs. The
# machine may be shared: the load average is printed before and after,
# and the runs a ratio compares are made one after the other.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # also when started as 'sh bench_main.sh'
set -euo pipefail
export LC_ALL=C
mod=${1:-github.com/prometheus/prometheus@v0.316.0}
PKG=${2:-./cmd/prometheus}
RUNS=${3:-3}
DEEP=${DEEP:-./tsdb}
NIGHTLY=${NIGHTLY:-./config}
CGO=${CGO:-1}
FLAGS="CGO_ENABLED=0 -trimpath"
CGOFLAGS="CGO_ENABLED=1 -trimpath"
# shellcheck source=SCRIPTDIR/../tools/benchlib.sh
source "$(dirname "$0")/../tools/benchlib.sh"
bench_setup bench_main.sh git jq tar gzip bc awk comm du find
W=$work
cd "$W/src"
begin=$(bench_now)
secs() { printf '%.2f\n' "$(bench_since "$1")"; } # secs START: the seconds since, to 1/100
load_before=$(cat /proc/loadavg)
echo "load average before: $load_before"

# git with no user or system configuration, a fixed author and the date
# $date: the commits are the same on every run.
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
date=
g() {
	GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		git -c init.defaultBranch=main -c commit.gpgsign=false -c core.autocrlf=false "$@"
}
# A kept WORK: back to the module's own tree (the first commit holds all
# of it, ignored files too), then the same commits again.
if [ -d .git ]; then
	if first=$(g rev-list --max-parents=0 HEAD 2>/dev/null); then
		g reset -q --hard "$first"
		g clean -qfdx
	fi
	rm -rf .git
fi
g init -q
g add -A -f .
date=2025-01-01T00:00:00Z g commit -q -m "$mod"
c1=$(g rev-parse HEAD)

# warm NAME FLAGS: warms the checked-out commit into the OCI layout, the
# JSON report in NAME.json; prints the seconds. Its error is in NAME.err.
warm() {
	local t
	t=$(bench_now)
	"$cc" warm --to "oci:$W/oci" --layers 4 --build-cache=all --build-flags "$2" --format json >"$W/$1.json" 2>"$W/$1.err" || return 1
	secs "$t"
}
report() { # report NAME: what a warm published
	jq -r '"  tag \(.tag)\n  deps image \(.deps_tag) (\(if .deps_hit then "found in the target" else "published" end)), \(.modules) modules, layers new \(.layers.new) reused \(.layers.reused), \(.bytes.written) bytes written",
		(.build_cache // empty | "  build cache: \(.packages) packages, \(.bytes.raw) bytes raw, \(.bytes.compressed) compressed\(if .reused_from then ", reused from \(.reused_from)" else "" end)"),
		(.main_module[]? | "  main module: \(.packages) packages at \(.revision[:12]), \(.bytes.raw) bytes raw, \(.bytes.compressed) compressed"),
		"  seconds: \(.seconds | to_entries | map("\(.key) \(.value * 100 | round / 100)") | join(", "))"' "$W/$1.json"
}
fail() { # fail NAME: the warm's error, and exit
	echo "bench_main.sh: warm $1 failed:" >&2
	cat "$W/$1.err" >&2
	exit 1
}

rm -rf "$W/oci"
night1=$(warm night1 "$FLAGS") || fail night1
echo "first night (commit ${c1:0:12}): warm --build-cache=all into an empty OCI layout: $night1 s"
report night1
main_raw=$(jq '.main_module[0].bytes.raw' "$W/night1.json")
main_gz=$(jq '.main_module[0].bytes.compressed' "$W/night1.json")

# The second night: one Go file changed, go.mod and go.sum the same.
nfile=$(find "$NIGHTLY" -maxdepth 1 -name '*.go' ! -name '*_test.go' | sort | head -1)
[ -n "$nfile" ] || { echo "bench_main.sh: no Go file in $NIGHTLY" >&2; exit 1; }
printf '\n// benchNightly is what the second commit adds.\nfunc benchNightly() int { return 2 }\n' >>"$nfile"
g add "$nfile"
date=2025-01-02T00:00:00Z g commit -q -m "change $nfile"
c2=$(g rev-parse HEAD)
night2=$(warm night2 "$FLAGS") || fail night2
echo "second night (commit ${c2:0:12}, $nfile changed): $night2 s"
report night2
[ "$(jq -r .deps_hit "$W/night2.json")" = true ] || echo "UNEXPECTED: the second night did not find the deps image in the target"
rev_tag=$(jq -r .tag "$W/night2.json")
deps_tag=$(jq -r .deps_tag "$W/night2.json")
[ "$rev_tag" = "$deps_tag-r${c2:0:12}" ] || echo "UNEXPECTED: revision tag $rev_tag, want $deps_tag-r${c2:0:12}"
[ "$deps_tag" = "$(jq -r .deps_tag "$W/night1.json")" ] || echo "UNEXPECTED: the nights' deps tags differ"

cgo_err=
if [ "$CGO" = 1 ]; then
	if cgo_warm=$(warm cgo "$CGOFLAGS"); then
		echo "warm --build-flags '$CGOFLAGS' (commit ${c2:0:12}): $cgo_warm s"
		report cgo
	else
		cgo_err=$(cat "$W/cgo.err")
		echo "warm --build-flags '$CGOFLAGS' failed:"
		echo "$cgo_err"
	fi
fi

# unpack TAG NAME: the image TAG of the OCI layout, its layers (listed in
# NAME.layers) unpacked into NAME. The build cache's entries are dated
# 2100 (buildcache.KeepTime), which GNU tar warns about, one line an
# entry: that warning only is left out.
unpack() {
	local m l
	m=$(jq -r --arg t "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$W/oci/index.json")
	[ -n "$m" ] || { echo "bench_main.sh: no tag $1 in $W/oci" >&2; exit 1; }
	[ ! -e "$W/$2" ] || chmod -R u+w "$W/$2" # a module cache is read-only
	rm -rf "${W:?}/$2"
	mkdir "$W/$2"
	jq -r '.layers[].digest' "$W/oci/blobs/sha256/${m#sha256:}" >"$W/$2.layers"
	while read -r l; do
		tar --warning=no-timestamp -xzf "$W/oci/blobs/sha256/${l#sha256:}" -C "$W/$2"
	done <"$W/$2.layers"
}
entries() { find "$1" -name '*-a' | wc -l; }
unpack "$rev_tag" root
unpack "$deps_tag" root-deps
head -n "$(wc -l <"$W/root-deps.layers")" "$W/root.layers" | cmp -s - "$W/root-deps.layers" ||
	echo "UNEXPECTED: the revision image's layers do not start with the deps image's"
echo "revision image: $(wc -l <"$W/root.layers") layers; deps image: $(wc -l <"$W/root-deps.layers")"
GC=root/.cache/go-build
echo "build cache of the revision image: $(du -sb "$W/root/$GC" | cut -f1) bytes, $(entries "$W/root/$GC") entries; of the deps image: $(du -sb "$W/root-deps/$GC" | cut -f1) bytes, $(entries "$W/root-deps/$GC") entries"

export GOMODCACHE="$W/root/go/pkg/mod" GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
path=$(go list -f '{{.ImportPath}}' "$PKG")
main=$(go list -f '{{.Dir}}' "$PKG")/$(go list -f '{{index .GoFiles 0}}' "$PKG")
deep=$(go list -f '{{.ImportPath}}' "$DEEP")
deepfile=$(go list -f '{{.Dir}}' "$DEEP")/$(go list -f '{{index .GoFiles 0}}' "$DEEP")
modpath=$(go list -m -f '{{.Path}}')
# The main module's packages warm compiles: those the module's main
# packages import, main packages left out.
# shellcheck disable=SC2046 # one word a main package
own=$(go list -trimpath -deps -f '{{if and .Module .Module.Main (ne .Name "main")}}{{.ImportPath}}{{end}}' $(go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...) | sort -u)
echo "main module packages the main packages import: $(printf '%s\n' "$own" | wc -l); the warm compiled $(jq '.main_module[0].packages' "$W/night2.json")"
# The main module's packages PACKAGE imports that import DEEP, or are it:
# what a change to DEEP may recompile.
go list -trimpath -deps -f '{{.ImportPath}} {{join .Deps " "}}' "$PKG" |
	awk -v d="$deep" -v m="$modpath/" '$1 == d || index($1, m) == 1 && index($0 " ", " " d " ") {print $1}' | sort >"$W/deep-rdeps.txt"
echo "packages of $path that are or import $deep: $(wc -l <"$W/deep-rdeps.txt")"

n=0
# build NAME GOCACHE FILE: appends a new function to FILE (another each
# build), builds PKG with GOCACHE, prints the seconds, and puts FILE back:
# every build is of the second commit plus one edit. Not in a $(...): n
# counts the builds.
build() {
	local t
	n=$((n + 1))
	cp "$3" "$W/saved.go"
	printf '\n// BenchChange%d is the change of build %s.\nfunc BenchChange%d() int { return %d }\n' "$n" "$1" "$n" "$n" >>"$3"
	t=$(bench_now)
	GOCACHE=$2 go build -trimpath -v -o "$W/bin" "$PKG" 2>"$W/$1.log" || { cat "$W/$1.log" >&2; exit 1; }
	secs "$t"
	cp "$W/saved.go" "$3"
	[ -z "$(g status --porcelain)" ] || { echo "bench_main.sh: the work tree differs from ${c2:0:12} after build $1:" >&2; g status --short >&2; exit 1; }
}
fresh() { # fresh NAME DIR: a fresh copy of the build cache DIR at NAME
	rm -rf "${W:?}/$1"
	cp -a "$2" "$W/$1"
}
# compiled NAME: the packages build NAME compiled (go build -v prints one
# import path a line; cgo warnings are not import paths).
compiled() { grep -E '^[A-Za-z0-9._~/-]+$' "$W/$1.log" | sort -u; }
count() { compiled "$1" | wc -l; }
# unexpected NAME WANT...: the packages NAME compiled other than WANT.
unexpected() {
	local name=$1
	shift
	compiled "$name" | comm -23 - <(printf '%s\n' "$@" | sort -u)
}

# The warm local build cache: the unchanged tree built here.
rm -rf "$W/gocache-local"
mkdir "$W/gocache-local"
t=$(bench_now)
GOCACHE=$W/gocache-local go build -trimpath -o "$W/bin" "$PKG"
fill=$(secs "$t")
echo "full build of the unchanged tree, filling the warm local build cache: $fill s, $(du -sb "$W/gocache-local" | cut -f1) bytes"

echo "== a. one-file change in $PKG ($main)"
rm -rf "$W/gc-empty"
mkdir "$W/gc-empty"
build a-modonly "$W/gc-empty" "$main" >"$W/a-modonly"
modonly=$(cat "$W/a-modonly")
echo "module cache only (GOCACHE empty), 1 run only: $modonly s, $(count a-modonly) packages compiled"
fresh gc-deps "$W/root-deps/$GC"
build a-deps "$W/gc-deps" "$main" >"$W/a-deps"
depsonly=$(cat "$W/a-deps")
echo "FROM the dependencies-only image, 1 run only: $depsonly s, $(count a-deps) packages compiled ($(compiled a-deps | grep -c "^$modpath\(/\|$\)") of the main module)"
: >"$W/a-img"
: >"$W/a-local"
for i in $(seq "$RUNS"); do
	fresh gc-img "$W/root/$GC"
	build "a-img$i" "$W/gc-img" "$main" >>"$W/a-img"
	fresh gc-local "$W/gocache-local"
	build "a-local$i" "$W/gc-local" "$main" >>"$W/a-local"
done
echo "FROM the image, each run: $(tr '\n' ' ' <"$W/a-img")s, $(count a-img1) packages compiled: $(compiled a-img1 | tr '\n' ' ')"
echo "warm local, each run: $(tr '\n' ' ' <"$W/a-local")s, $(count a-local1) packages compiled"
for i in $(seq "$RUNS"); do
	for b in a-img a-local; do
		u=$(unexpected "$b$i" "$path")
		[ -z "$u" ] || echo "UNEXPECTED: build $b$i compiled more than $path: $(printf '%s\n' "$u" | tr '\n' ' ')"
	done
done
a_img=$(bench_median <"$W/a-img")
a_local=$(bench_median <"$W/a-local")

echo "== b. one-file change in $DEEP ($deepfile)"
: >"$W/b-img"
: >"$W/b-local"
for i in $(seq "$RUNS"); do
	fresh gc-img "$W/root/$GC"
	build "b-img$i" "$W/gc-img" "$deepfile" >>"$W/b-img"
	fresh gc-local "$W/gocache-local"
	build "b-local$i" "$W/gc-local" "$deepfile" >>"$W/b-local"
done
b_img=$(bench_median <"$W/b-img")
b_local=$(bench_median <"$W/b-local")
echo "FROM the image, each run: $(tr '\n' ' ' <"$W/b-img")s, $(count b-img1) packages compiled"
echo "warm local, each run: $(tr '\n' ' ' <"$W/b-local")s, $(count b-local1) packages compiled"
# shellcheck disable=SC2046 # one word a package
for i in $(seq "$RUNS"); do
	for b in b-img b-local; do
		u=$(unexpected "$b$i" $(cat "$W/deep-rdeps.txt") "$path")
		[ -z "$u" ] || echo "UNEXPECTED: build $b$i compiled packages that do not import $deep: $(printf '%s\n' "$u" | tr '\n' ' ')"
	done
	d=$(comm -3 <(compiled "b-img$i") <(compiled "b-local$i"))
	[ -z "$d" ] || echo "UNEXPECTED: run $i FROM the image and warm local compiled different packages (left: image only, right: local only): $(printf '%s\n' "$d" | tr '\n\t' ' +')"
done

cgo_line="cgo: not measured (CGO=0)"
if [ "$CGO" = 1 ] && [ -z "$cgo_err" ]; then
	echo "== c. cgo: one-file change in $PKG FROM the CGO_ENABLED=1 image"
	cgo_tag=$(jq -r .tag "$W/cgo.json")
	unpack "$cgo_tag" root-cgo
	fresh gc-cgo "$W/root-cgo/$GC"
	GOMODCACHE="$W/root-cgo/go/pkg/mod" CGO_ENABLED=1 build c-cgo "$W/gc-cgo" "$main" >"$W/c-cgo"
	cgo_t=$(cat "$W/c-cgo")
	echo "FROM the CGO_ENABLED=1 image, CGO_ENABLED=1: $cgo_t s, $(count c-cgo) packages compiled: $(compiled c-cgo | tr '\n' ' ')"
	echo "FROM the CGO_ENABLED=0 image, CGO_ENABLED=0 (a. above): $(count a-img1) packages compiled"
	cgo_line="cgo: FROM the CGO_ENABLED=1 image go build compiles $(count c-cgo) packages ($cgo_t s); FROM the CGO_ENABLED=0 image with CGO_ENABLED=0 $(count a-img1) ($(head -1 "$W/a-img") s)"
elif [ -n "$cgo_err" ]; then
	cgo_line="cgo: warm --build-flags '$CGOFLAGS' failed: $(printf '%s' "$cgo_err" | tail -3 | tr '\n' ' ')"
fi

load_after=$(cat /proc/loadavg)
echo "load average after: $load_after"
total=$(secs "$begin")
echo "total: $total s"
ratio() { printf "%.2f" "$(echo "scale=4; $1 / $2" | bc)"; }
echo "== summary"
echo "nightly warm --build-cache=all: first night $night1 s, second night $night2 s (deps image found, main module compiled); main module layer $main_raw bytes raw, $main_gz compressed"
echo "load average before: $load_before; after: $load_after; total $total s"
echo "$cgo_line"
echo "one-file change in $DEEP, median of $RUNS: FROM the image $b_img s ($(count b-img1) packages compiled); warm local $b_local s ($(count b-local1) packages): $(ratio "$b_img" "$b_local")x"
echo "one-file change in $PKG, median of $RUNS: module cache only $modonly s (1 run); FROM the image $a_img s; warm local $a_local s: $(ratio "$modonly" "$a_img")x, $(ratio "$a_img" "$a_local")x (FROM the dependencies-only image $depsonly s, 1 run)"
