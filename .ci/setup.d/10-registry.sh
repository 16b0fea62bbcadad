# The real distribution registry (Debian's docker-registry) on loopback, plain
# HTTP, deletes enabled, filesystem storage under the CI temporary directory.
# Exports CACHECHECK_REGISTRY=127.0.0.1:PORT. Sourced by .ci/test.sh.
apt_install docker-registry skopeo curl ca-certificates

# start_registry NAME PORT [EXTRA-YAML]: starts a registry and waits for it.
start_registry() {
  local name=$1 port=$2 extra=${3:-}
  local dir="$CACHECHECK_CI_TMP/registry-$name"
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$extra
YAML
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  local pid=$!
  echo "$pid" > "$dir/pid"
  eval "stop_registry_$name() { kill $pid 2>/dev/null; wait $pid 2>/dev/null; }"
  cleanup_fns+=("stop_registry_$name")
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "registry $name exited while starting:"; cat "$dir/log"; return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "registry $name did not listen on 127.0.0.1:$port within 10 s:"; cat "$dir/log"; return 1
}

plain_port=$(free_port 127.0.0.1 5801)
start_registry plain "$plain_port" || exit 1
export CACHECHECK_REGISTRY=127.0.0.1:$plain_port
curl -fsS "http://$CACHECHECK_REGISTRY/v2/" >/dev/null || { echo "registry at $CACHECHECK_REGISTRY does not answer /v2/"; exit 1; }
