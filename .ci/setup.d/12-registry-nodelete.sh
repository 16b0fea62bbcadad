# A second plain distribution registry on loopback with deletes disabled
# (storage.delete.enabled: false, distribution's default), for the test that
# prune's refusal message is clear. Sourced by .ci/test.sh after
# 10-registry.sh, whose apt packages it uses.
# Exports CACHECHECK_REGISTRY_NODELETE=127.0.0.1:PORT.
nd_dir="$CACHECHECK_CI_TMP/registry-nodelete"
nd_port=$(free_port 127.0.0.1 5803)
mkdir -p "$nd_dir/data"
cat > "$nd_dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $nd_dir/data
  delete:
    enabled: false
http:
  addr: 127.0.0.1:$nd_port
YAML
docker-registry serve "$nd_dir/config.yml" >"$nd_dir/log" 2>&1 &
nd_pid=$!
eval "stop_registry_nodelete() { kill $nd_pid 2>/dev/null; wait $nd_pid 2>/dev/null; }"
cleanup_fns+=(stop_registry_nodelete)
nd_up=""
for _ in $(seq 1 100); do
  if ! kill -0 "$nd_pid" 2>/dev/null; then
    echo "registry nodelete exited while starting:"; cat "$nd_dir/log"; exit 1
  fi
  if curl -fsS "http://127.0.0.1:$nd_port/v2/" >/dev/null 2>&1; then nd_up=1; break; fi
  sleep 0.1
done
[ -n "$nd_up" ] || { echo "registry nodelete did not answer on 127.0.0.1:$nd_port within 10 s:"; cat "$nd_dir/log"; exit 1; }
export CACHECHECK_REGISTRY_NODELETE=127.0.0.1:$nd_port
