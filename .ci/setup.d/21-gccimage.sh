# shellcheck shell=bash
# A Go builder image with a C compiler, for the cgo tests: the test base
# image (20-baseimage.sh) plus gcc 11 and the C library's headers, unpacked
# from Debian's packages (no maintainer scripts run; /usr/bin/gcc is made a
# link to gcc-11). This machine's gcc is 12, so a cgo package compiled with
# it has other cache keys than the same package compiled in the image.
# Exports CACHECHECK_GCC_BASE_IMAGE=127.0.0.1:PORT/cachecheck/golang-gcc@sha256:...
gcc_debs="$CACHECHECK_CI_TMP/gcc-debs"
gcc_root="$CACHECHECK_CI_TMP/gcc-root"
mkdir -p "$gcc_debs" "$gcc_root"
if ! apt-cache show gcc-11 >/dev/null 2>&1; then
  apt-get update -qq
  # shellcheck disable=SC2034 # read by apt_install (.ci/test.sh)
  apt_updated=1
fi
# The packages gcc-11 and libc6-dev need, all the way down.
gcc_pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances gcc-11 libc6-dev |
  grep '^[a-z0-9]' | sort -u)
# shellcheck disable=SC2086 # one word a package
(cd "$gcc_debs" && apt-get download -qq $gcc_pkgs) || { echo "downloading gcc-11's packages failed"; exit 1; }
for deb in "$gcc_debs"/*.deb; do
  dpkg-deb -x "$deb" "$gcc_root" || { echo "unpacking $deb failed"; exit 1; }
done
gcc11=""
for f in "$gcc_root"/usr/bin/*-linux-gnu-gcc-11; do if [ -e "$f" ]; then gcc11=${f##*/}; fi; done
[ -n "$gcc11" ] || { echo "the gcc-11 packages hold no *-linux-gnu-gcc-11 (downloaded: $gcc_pkgs)"; exit 1; }
ln -sf "$gcc11" "$gcc_root/usr/bin/gcc"
CACHECHECK_GCC_BASE_IMAGE=$(go run ./internal/testimage/push --tree "$gcc_root" "${CACHECHECK_REGISTRY:?10-registry.sh must run first}/cachecheck/golang-gcc:local") || {
  echo "building or pushing the gcc test base image failed"; exit 1; }
export CACHECHECK_GCC_BASE_IMAGE
echo "gcc base image: $CACHECHECK_GCC_BASE_IMAGE"
