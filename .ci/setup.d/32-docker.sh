# shellcheck shell=bash
# A docker engine of its own: Debian's docker.io (dockerd 20.10, with the
# containerd it starts and Debian's runc), run as root with its data, exec
# root, pid file and socket under the CI directory, so that nothing here
# touches a system dockerd (DOCKER_HOST is exported too). The loopback
# registry is an insecure registry. Storage: overlay2, else vfs, whichever
# builds a RUN step on the test base image. No bridge and no iptables
# rules: RUN steps use the host's network (--network host), as the other
# builders' do, so that they reach the loopback registry and module
# proxies, and the host's firewall and forwarding are left as they are.
# The test base image is pulled from the loopback registry.
#
# Exports:
#   CACHECHECK_DOCKER_HOST     the engine's address (unix://…/docker.sock), also as DOCKER_HOST
#   CACHECHECK_DOCKER_BIN      Debian's docker command, the engine's version (a newer one
#                              may come first on PATH and want buildx for BuildKit builds)
#   CACHECHECK_DOCKER_NETWORK  the network builds pass to --network (host)
#   CACHECHECK_DOCKER_STORAGE  the storage driver that worked (overlay2 or vfs)
# Sourced by .ci/test.sh after 20-baseimage.sh.
apt_install docker.io containerd runc tini iptables ca-certificates

docker_dir="$CACHECHECK_CI_TMP/docker"
docker_bin=/usr/bin/docker
mkdir -p "$docker_dir/check"
export CACHECHECK_DOCKER_HOST="unix://$docker_dir/docker.sock"
export DOCKER_HOST="$CACHECHECK_DOCKER_HOST"
export CACHECHECK_DOCKER_BIN="$docker_bin"
export CACHECHECK_DOCKER_NETWORK=host
docker_pid=""

stop_dockerd() {
  if [ -n "$docker_pid" ]; then
    kill "$docker_pid" 2>/dev/null
    # dockerd stops its containers and containerd first: give it time.
    for _ in $(seq 1 150); do kill -0 "$docker_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$docker_pid" 2>/dev/null
    wait "$docker_pid" 2>/dev/null
    docker_pid=""
  fi
  # The containerd dockerd started, should dockerd have died first.
  local cpid
  cpid=$(cat "$docker_dir/exec/containerd/containerd.pid" 2>/dev/null || true)
  if [ -n "$cpid" ] && grep -qa containerd "/proc/$cpid/cmdline" 2>/dev/null; then kill "$cpid" 2>/dev/null; fi
  grep -o " $docker_dir/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  return 0
}
cleanup_fns+=(stop_dockerd)

# start_dockerd DRIVER: starts dockerd with the storage driver DRIVER on a
# fresh data root and waits up to 60 s for it to answer.
start_dockerd() {
  local driver=$1
  stop_dockerd
  rm -rf "$docker_dir/root" "$docker_dir/exec"
  mkdir -p "$docker_dir/root" "$docker_dir/exec"
  cat > "$docker_dir/daemon.json" <<JSON
{
  "data-root": "$docker_dir/root",
  "exec-root": "$docker_dir/exec",
  "pidfile": "$docker_dir/docker.pid",
  "hosts": ["$CACHECHECK_DOCKER_HOST"],
  "storage-driver": "$driver",
  "insecure-registries": ["${CACHECHECK_REGISTRY:?10-registry.sh must run first}"],
  "bridge": "none",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "exec-opts": ["native.cgroupdriver=cgroupfs"]
}
JSON
  dockerd --config-file "$docker_dir/daemon.json" >"$docker_dir/log-$driver" 2>&1 &
  docker_pid=$!
  for _ in $(seq 1 600); do
    if ! kill -0 "$docker_pid" 2>/dev/null; then
      wait "$docker_pid" 2>/dev/null
      docker_pid=""
      return 1
    fi
    if "$docker_bin" version >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# docker_builds: the engine pulls the test base image from the loopback
# registry and builds a RUN step on it, with the classic builder and with
# its BuildKit.
docker_builds() {
  printf 'FROM %s\nRUN echo ok > /ok\n' "${CACHECHECK_BASE_IMAGE:?20-baseimage.sh must run first}" >"$docker_dir/check/Dockerfile"
  "$docker_bin" pull -q "$CACHECHECK_BASE_IMAGE" &&
    DOCKER_BUILDKIT=0 "$docker_bin" build --network host --no-cache -q "$docker_dir/check" &&
    DOCKER_BUILDKIT=1 "$docker_bin" build --network host --no-cache --progress=plain "$docker_dir/check"
}

docker_storage=""
for driver in overlay2 vfs; do
  echo "dockerd with the $driver storage driver"
  if ! start_dockerd "$driver"; then
    echo "dockerd did not start with $driver; its log:"; tail -n 20 "$docker_dir/log-$driver"
    continue
  fi
  if docker_builds >"$docker_dir/check/log-$driver" 2>&1; then
    docker_storage=$driver
    break
  fi
  echo "dockerd with $driver cannot build here:"; tail -n 20 "$docker_dir/check/log-$driver"
done
if [ -z "$docker_storage" ]; then
  stop_dockerd
  echo "no storage driver works for dockerd (logs in $docker_dir)"; exit 1
fi
export CACHECHECK_DOCKER_STORAGE="$docker_storage"
"$docker_bin" version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}'
echo "docker storage driver: $docker_storage"
