# podman, with runc and cgroupfs (crun fails on this machine's cgroups) and
# its events in a file (no journald), its storage under the CI directory,
# apart from buildah's, so the tests start from an empty cache. Sourced by
# .ci/test.sh after 30-buildkit.sh (which installs runc and fuse-overlayfs).
#
# Exports:
#   CACHECHECK_PODMAN_ROOT   podman's storage for the tests (root and runroot in it)
apt_install podman runc fuse-overlayfs ca-certificates

export CACHECHECK_PODMAN_ROOT="$CACHECHECK_CI_TMP/podman"
mkdir -p "$CACHECHECK_PODMAN_ROOT/root" "$CACHECHECK_PODMAN_ROOT/runroot"
podman_global=(--root "$CACHECHECK_PODMAN_ROOT/root" --runroot "$CACHECHECK_PODMAN_ROOT/runroot"
  --storage-driver overlay --runtime /usr/sbin/runc --cgroup-manager cgroupfs --events-backend file)
if ! podman "${podman_global[@]}" info >"$CACHECHECK_PODMAN_ROOT/info.log" 2>&1; then
  echo "podman cannot run here:"; cat "$CACHECHECK_PODMAN_ROOT/info.log"; exit 1
fi
# podman info runs no container: run one from the test base image, which
# also checks that podman pulls from the plain-HTTP loopback registry.
if ! podman "${podman_global[@]}" run --rm --tls-verify=false --network host \
    "${CACHECHECK_BASE_IMAGE:?20-baseimage.sh must run first}" true >"$CACHECHECK_PODMAN_ROOT/run.log" 2>&1; then
  echo "podman cannot run a container here:"; cat "$CACHECHECK_PODMAN_ROOT/run.log"; exit 1
fi
stop_podman() {
  podman "${podman_global[@]}" rm --all --force >/dev/null 2>&1
  grep -o " $CACHECHECK_PODMAN_ROOT/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}
cleanup_fns+=(stop_podman)
