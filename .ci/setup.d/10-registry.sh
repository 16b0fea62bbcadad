# shellcheck shell=bash
# The real distribution registry (Debian's docker-registry) on loopback, plain
# HTTP, deletes enabled, filesystem storage under the CI temporary directory.
# Exports CACHECHECK_REGISTRY=127.0.0.1:PORT. Sourced by .ci/test.sh.
apt_install docker-registry skopeo curl ca-certificates

# start_registry NAME ADDR DELETE READY [YAML]: starts a registry listening on
# ADDR (HOST:PORT), with deletes enabled when DELETE is true, and waits up to
# 10 s for the command READY to succeed. YAML is added after the http
# section's addr: more of http (tls) and top-level sections (auth).
# 11-registry-secure.sh and 12-registry-nodelete.sh use it too.
start_registry() {
  local name=$1 addr=$2 delete=$3 ready=$4 extra=${5:-}
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
    enabled: $delete
http:
  addr: $addr
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
    if $ready; then return 0; fi
    sleep 0.1
  done
  echo "registry $name on $addr did not pass '$ready' within 10 s:"; cat "$dir/log"; return 1
}

plain_port=$(free_port 127.0.0.1 5801)
plain_ready() { curl -fsS "http://127.0.0.1:$plain_port/v2/" >/dev/null 2>&1; }
start_registry plain "127.0.0.1:$plain_port" true plain_ready || exit 1
export CACHECHECK_REGISTRY=127.0.0.1:$plain_port
