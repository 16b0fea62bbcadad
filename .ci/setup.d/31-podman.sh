# shellcheck shell=bash
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
# podman info runs no container: build one RUN step on the test base image,
# as the tests do, which also checks that podman pulls from the plain-HTTP
# loopback registry. (podman run would fail here: it raises RLIMIT_NOFILE
# and RLIMIT_NPROC above the hard limits without CAP_SYS_RESOURCE; podman
# build's RUN steps keep podman's own limits.)
mkdir -p "$CACHECHECK_PODMAN_ROOT/check"
printf 'FROM %s\nRUN true\n' "${CACHECHECK_BASE_IMAGE:?20-baseimage.sh must run first}" >"$CACHECHECK_PODMAN_ROOT/check/Dockerfile"
if ! podman "${podman_global[@]}" build --layers=false --tls-verify=false --network host \
    --iidfile "$CACHECHECK_PODMAN_ROOT/check/iid" "$CACHECHECK_PODMAN_ROOT/check" >"$CACHECHECK_PODMAN_ROOT/check/log" 2>&1; then
  echo "podman cannot build here:"; cat "$CACHECHECK_PODMAN_ROOT/check/log"; exit 1
fi
podman "${podman_global[@]}" rmi "$(cat "$CACHECHECK_PODMAN_ROOT/check/iid")" >/dev/null
stop_podman() {
  podman "${podman_global[@]}" rm --all --force >/dev/null 2>&1
  grep -o " $CACHECHECK_PODMAN_ROOT/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}
cleanup_fns+=(stop_podman)
