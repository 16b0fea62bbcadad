#!/usr/bin/env bash
# contents.sh chooses warm's --contents default by measuring what a build
# pays for each: it warms a real module set into a loopback registry with
# --contents full and --contents zips, then, for each image, times
#   pull:   skopeo copy of the image into an empty OCI layout (an
#           independent client, as a builder's pull);
#   unpack: extracting its layers in order into an empty directory;
#   build:  GOMODCACHE=<dir>/go/pkg/mod GOPROXY=off GOFLAGS=-mod=mod
#           go build -trimpath of a small program importing the set, so
#           zips pays the go command's re-extraction here. The build cache
#           (GOCACHE) is primed once before timing and shared (a CI build
#           with a cache mount or warm's --build-cache layer): compiling
#           is the same work in both modes and, with an empty cache, its
#           minutes of noise on a busy machine drown the difference.
#           GOCACHE_FRESH=1 times every build with an empty cache instead;
# and prints each phase and the totals, REPS times, alternating the modes so
# both see the same machine load, then the medians of the total (a runner
# that pulls the image for this build) and of the build alone (a runner that
# already holds the unpacked image: zips re-extracts on every build).
#
# Usage: CACHECHECK_REGISTRY=127.0.0.1:5801 internal/publish/contents.sh [MODULE@VERSION [PACKAGE]]
# The default is k8s.io/client-go@v0.31.0 (56 modules) and a program
# importing k8s.io/client-go/rest and k8s.io/client-go/tools/clientcmd.
# Any registry on loopback will do; .ci/setup.d/10-registry.sh starts one.
# Needs the Go module proxy, skopeo, tar and bc. WORK=dir keeps the
# downloads between runs; REPS (default 3) sets the repetitions.
set -euo pipefail

# shellcheck disable=SC2034 # mod is read by bench_setup (benchlib.sh)
mod=${1:-k8s.io/client-go@v0.31.0}
imports=${2:-"k8s.io/client-go/rest k8s.io/client-go/tools/clientcmd"}
reg=${CACHECHECK_REGISTRY:?set CACHECHECK_REGISTRY to a loopback registry, e.g. 127.0.0.1:5801}
reps=${REPS:-3}
# shellcheck source=SCRIPTDIR/../tools/benchlib.sh
source "$(dirname "$0")/../tools/benchlib.sh"
bench_setup contents.sh skopeo tar bc du
# The program: a main package inside the module, so it builds against the
# module's own go.mod and go.sum, which the deps image was warmed from.
mkdir -p "$work/src/ccprogram"
{
	echo "package main"
	echo
	echo "import ("
	for p in $imports; do echo "	_ \"$p\""; done
	echo ")"
	echo
	echo "func main() {}"
} >"$work/src/ccprogram/main.go"


if [ "${GOCACHE_FRESH:-}" != 1 ] && [ ! -d "$work/gocache" ]; then
	(cd "$work/src" && GOMODCACHE="$work/modcache" GOCACHE="$work/gocache" GOFLAGS=-modcacherw go build -trimpath -o /dev/null ./ccprogram)
fi

rm -f "$work/totals"
declare -A ref
repo="$reg/cachecheck-contents-$(date +%s)"
for c in full zips; do
	ref[$c]=$("$cc" warm "$work/src" --to "$repo-$c" --insecure --contents "$c" --force -q)
	echo "warmed --contents $c: ${ref[$c]}"
done

printf '\n%-6s %4s %8s %8s %8s %8s %9s %10s  %s\n' contents rep "pull s" "unpack s" "build s" "total s" "image MB" "on disk MB" load
for rep in $(seq 1 "$reps"); do
	for c in full zips; do
		d=$(mktemp -d "$work/run-$c-XXXX")
		start=$(bench_now)
		skopeo copy -q --src-tls-verify=false "docker://${ref[$c]%@*}" "oci:$d/oci:img" >/dev/null
		pull=$(bench_since "$start")
		imgbytes=$(du -sb "$d/oci/blobs" | cut -f1)
		start=$(bench_now)
		mkdir "$d/root"
		manifest=$(sed -n 's/.*"digest": *"sha256:\([0-9a-f]*\)".*/\1/p' "$d/oci/index.json" | head -1)
		# Layers in manifest order (after the config), extracted by GNU tar,
		# which recognises gzip and zstd by their magic numbers.
		for l in $(tr ',' '\n' <"$d/oci/blobs/sha256/$manifest" | sed -n 's/.*"digest": *"sha256:\([0-9a-f]*\)".*/\1/p' | tail -n +2); do
			tar -xf "$d/oci/blobs/sha256/$l" -C "$d/root"
		done
		unpack=$(bench_since "$start")
		disk=$(du -sb "$d/root" | cut -f1)
		start=$(bench_now)
		gocache="$work/gocache"
		[ "${GOCACHE_FRESH:-}" != 1 ] || gocache="$d/gocache"
		(cd "$work/src" && GOMODCACHE="$d/root/go/pkg/mod" GOCACHE="$gocache" GOPROXY=off GOFLAGS=-mod=mod go build -trimpath -o "$d/prog" ./ccprogram)
		build=$(bench_since "$start")
		total=$(echo "$pull + $unpack + $build" | bc)
		printf '%-8s %4d %8.2f %8.2f %8.2f %8.2f %9.1f %10.1f  %s\n' "$c" "$rep" "$pull" "$unpack" "$build" "$total" \
			"$(echo "$imgbytes / 1000000" | bc -l)" "$(echo "$disk / 1000000" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
		echo "$c $total $build" >>"$work/totals"
		chmod -R u+w "$d" && rm -rf "$d"
	done
done
echo
for c in full zips; do
	t=$(grep "^$c " "$work/totals" | sort -k2 -n | awk '{a[NR]=$2} END {print a[int((NR+1)/2)]}')
	b=$(grep "^$c " "$work/totals" | sort -k3 -n | awk '{a[NR]=$3} END {print a[int((NR+1)/2)]}')
	printf '%s: median pull+unpack+build %.2f s (image not on the host yet); median build alone %.2f s (image already pulled and unpacked)\n' "$c" "$t" "$b"
done
rm -f "$work/totals"
