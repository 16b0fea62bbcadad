# shellcheck shell=bash
# A second plain distribution registry on loopback with deletes disabled
# (storage.delete.enabled: false, distribution's default), for the test that
# prune's refusal message is clear. Sourced by .ci/test.sh after
# 10-registry.sh, whose apt packages it uses.
# Exports CACHECHECK_REGISTRY_NODELETE=127.0.0.1:PORT.
nd_port=$(free_port 127.0.0.1 5803)
nd_ready() { curl -fsS "http://127.0.0.1:$nd_port/v2/" >/dev/null 2>&1; }
start_registry nodelete "127.0.0.1:$nd_port" false nd_ready || exit 1
export CACHECHECK_REGISTRY_NODELETE=127.0.0.1:$nd_port
