#!/usr/bin/env bash
# The whole test suite, as the README gives it: installs what the tests need,
# starts every service they use (failing, not skipping, when one cannot
# start), then runs the unit, script, integration and short fuzz tests.
#
# Each file in .ci/setup.d is sourced in order; it installs and starts one
# service and exports the variables the integration tests read. Services are
# stopped when this script exits.
#
# With arguments, it starts the services and runs only `go test ARGS`, e.g.
#
#	CACHECHECK_REALSERVICE_RUNS=3 bash .ci/test.sh -v -run TestRealService -timeout 90m ./internal/realservice
set -euo pipefail
cd "$(dirname "$0")/.."
export CACHECHECK_INTEGRATION=1
own_tmp=""
if [ -z "${CACHECHECK_CI_TMP:-}" ]; then
  CACHECHECK_CI_TMP=$(mktemp -d /tmp/cachecheck-ci.XXXXXX)
  own_tmp=1
fi
export CACHECHECK_CI_TMP
cleanup_fns=()
# on_exit stops the services, then removes the temporary directory this
# script made (registries' blobs, builder storage: gigabytes a run), first
# unmounting whatever a builder left mounted under it.
on_exit() {
  for ((i=${#cleanup_fns[@]}-1; i>=0; i--)); do "${cleanup_fns[$i]}" || true; done
  if [ -n "$own_tmp" ]; then
    awk -v d="$CACHECHECK_CI_TMP/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$CACHECHECK_CI_TMP" || echo "could not remove $CACHECHECK_CI_TMP" >&2
  fi
}
trap on_exit EXIT
apt_updated=""
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# free_port HOST START: the first port from START on which nothing listens
# on HOST, so that a second test run on the same machine does not collide.
free_port() {
  local host=$1 port=$2
  while (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do port=$((port+1)); done
  echo "$port"
}
for f in .ci/setup.d/*.sh; do
  [ -e "$f" ] || continue
  echo "--- setup: $f"
  # shellcheck source=/dev/null
  source "$f"
done

if [ $# -gt 0 ]; then
  echo "--- go test $*"
  go test -count=1 "$@"
  exit
fi

echo "--- go vet"
go vet ./...
echo "--- gofmt"
unformatted=$(git ls-files -z '*.go' | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
echo "--- staticcheck"
GOFLAGS='' go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
"$(go env GOPATH)/bin/staticcheck" ./...
echo "--- shellcheck"
apt_install shellcheck
git ls-files -z '*.sh' .ci/run | xargs -0 shellcheck -x -P SCRIPTDIR
echo "--- go test"
# The real service builds with BuildKit for minutes at full CPU; it runs
# on its own after the rest, so that its time is its own.
mapfile -t pkgs < <(go list ./... | grep -v '/internal/realservice$')
# Through gotestsum, which prints what go test would and keeps the
# events as JSON, so that the slowest tests can be listed after: where
# CI's time goes.
GOFLAGS='' go install gotest.tools/gotestsum@v1.13.0
gotestsum="$(go env GOPATH)/bin/gotestsum"
test_json=$CACHECHECK_CI_TMP/test.json
"$gotestsum" --format standard-quiet --jsonfile "$test_json" -- -count=1 -timeout 45m "${pkgs[@]}"
echo "--- the tests that took more than 60 s"
"$gotestsum" tool slowest --jsonfile "$test_json" --threshold 60s
rs_log=$CACHECHECK_CI_TMP/realservice.log
if ! go test -count=1 -timeout 20m -v ./internal/realservice >"$rs_log" 2>&1; then
  cat "$rs_log"
  exit 1
fi
grep -E 'REAL SERVICE|^(ok|--- )' "$rs_log"
if [ -f "$CACHECHECK_CI_TMP/prediction-agreement.txt" ]; then
  echo "--- predicted vs actual layer cache"
  cat "$CACHECHECK_CI_TMP/prediction-agreement.txt"
fi
echo "--- fuzz (short)"
while read -r pkg target; do
  [ -n "$pkg" ] || continue
  go test -run '^$' -fuzz "^${target}\$" -fuzztime 10s "$pkg"
done < .ci/fuzz-targets.txt
echo "--- all tests passed"
