# shellcheck shell=bash
# The real builders: BuildKit (buildkitd + buildctl, built from the Go module
# proxy at the version pinned in internal/tools/buildkit) with Debian's runc,
# and buildah. Sourced by .ci/test.sh after 10-registry.sh.
#
# Exports:
#   CACHECHECK_BUILDKIT_ADDR  unix socket of the running buildkitd
#   CACHECHECK_BUILDKIT_BIN   directory holding buildkitd and buildctl (also on PATH)
#   CACHECHECK_BUILDAH=1      when buildah can build here
#   CACHECHECK_BUILDAH_ROOT   buildah's storage root for the tests
apt_install runc buildah fuse-overlayfs busybox-static ca-certificates

# Build the binaries once per tools go.sum; later runs on the same machine
# reuse them.
bk_tools=internal/tools/buildkit
bk_hash=$(cat "$bk_tools/go.mod" "$bk_tools/go.sum" | sha256sum | cut -c1-16)
bk_bin="${XDG_CACHE_HOME:-$HOME/.cache}/cachecheck/bin/buildkit-$bk_hash"
if [ ! -x "$bk_bin/buildkitd" ] || [ ! -x "$bk_bin/buildctl" ]; then
  echo "building buildkitd and buildctl into $bk_bin"
  # A directory of its own: two runs on one machine may build at once.
  mkdir -p "$(dirname "$bk_bin")"
  bk_tmp=$(mktemp -d "$bk_bin.tmp.XXXXXX")
  (cd "$bk_tools" && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -o "$bk_tmp/" \
      github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl) || {
    echo "building BuildKit from $bk_tools failed"; exit 1; }
  chmod 755 "$bk_tmp"
  if [ ! -x "$bk_bin/buildkitd" ] || [ ! -x "$bk_bin/buildctl" ]; then
    rm -rf "$bk_bin" && mv "$bk_tmp" "$bk_bin"
  else
    rm -rf "$bk_tmp"
  fi
fi
export CACHECHECK_BUILDKIT_BIN="$bk_bin"
export PATH="$bk_bin:$PATH"

bk_dir="$CACHECHECK_CI_TMP/buildkit"
mkdir -p "$bk_dir/root"
cat > "$bk_dir/buildkitd.toml" <<TOML
root = "$bk_dir/root"

[grpc]
  address = ["unix://$bk_dir/buildkitd.sock"]

[worker.oci]
  enabled = true
  binary = "/usr/sbin/runc"
  snapshotter = "overlayfs"
  networkMode = "host"
  gc = false

[worker.containerd]
  enabled = false

[registry."${CACHECHECK_REGISTRY:?10-registry.sh must run first}"]
  http = true
  insecure = true
TOML
buildkitd --config "$bk_dir/buildkitd.toml" >"$bk_dir/log" 2>&1 &
bk_pid=$!
stop_buildkitd() {
  kill "$bk_pid" 2>/dev/null
  wait "$bk_pid" 2>/dev/null
  # Snapshots left mounted by an interrupted build.
  grep -o " $bk_dir/root[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}
cleanup_fns+=(stop_buildkitd)
export CACHECHECK_BUILDKIT_ADDR="unix://$bk_dir/buildkitd.sock"
bk_ready=""
for _ in $(seq 1 300); do
  if ! kill -0 "$bk_pid" 2>/dev/null; then break; fi
  if buildctl --addr "$CACHECHECK_BUILDKIT_ADDR" debug workers >/dev/null 2>&1; then bk_ready=1; break; fi
  sleep 0.1
done
if [ -z "$bk_ready" ]; then
  echo "buildkitd did not start (config $bk_dir/buildkitd.toml); its log:"; cat "$bk_dir/log"; exit 1
fi
buildctl --addr "$CACHECHECK_BUILDKIT_ADDR" debug workers

# buildah: chroot isolation (crun fails on this machine's cgroups), storage
# under the CI directory so the tests start from an empty cache.
export CACHECHECK_BUILDAH_ROOT="$CACHECHECK_CI_TMP/buildah"
mkdir -p "$CACHECHECK_BUILDAH_ROOT/root" "$CACHECHECK_BUILDAH_ROOT/runroot"
if ! buildah --root "$CACHECHECK_BUILDAH_ROOT/root" --runroot "$CACHECHECK_BUILDAH_ROOT/runroot" \
    --storage-driver overlay info >"$CACHECHECK_BUILDAH_ROOT/info.log" 2>&1; then
  echo "buildah cannot run here:"; cat "$CACHECHECK_BUILDAH_ROOT/info.log"; exit 1
fi
stop_buildah() {
  buildah --root "$CACHECHECK_BUILDAH_ROOT/root" --runroot "$CACHECHECK_BUILDAH_ROOT/runroot" \
    --storage-driver overlay rm --all >/dev/null 2>&1
  grep -o " $CACHECHECK_BUILDAH_ROOT/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}
cleanup_fns+=(stop_buildah)
export CACHECHECK_BUILDAH=1
