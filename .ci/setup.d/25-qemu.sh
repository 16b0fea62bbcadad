# shellcheck shell=bash
# Debian's qemu-user-static, which runs a linux/arm64 program when invoked
# with it (qemu-aarch64-static ./prog; no binfmt registration): the tests of
# build caches for other platforms run the official arm64 Go toolchain
# with it.
# Exports CACHECHECK_QEMU_AARCH64=/usr/bin/qemu-aarch64-static
apt_install qemu-user-static
CACHECHECK_QEMU_AARCH64=$(command -v qemu-aarch64-static) || {
  echo "qemu-user-static is installed but qemu-aarch64-static is not on PATH"; exit 1; }
"$CACHECHECK_QEMU_AARCH64" --version | head -1 || { echo "qemu-aarch64-static does not run"; exit 1; }
export CACHECHECK_QEMU_AARCH64
