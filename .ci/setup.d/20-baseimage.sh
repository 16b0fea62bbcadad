# shellcheck shell=bash
# The Go builder image that integration tests use in place of a public golang
# image (nothing can be pulled from public registries here): this machine's Go
# and busybox-static, with make as in the golang images, pushed to the
# loopback registry by internal/testimage.
# Exports CACHECHECK_BASE_IMAGE=127.0.0.1:PORT/cachecheck/golang@sha256:...
apt_install busybox-static ca-certificates make
CACHECHECK_BASE_IMAGE=$(go run ./internal/testimage/push "${CACHECHECK_REGISTRY:?10-registry.sh must run first}/cachecheck/golang:local") || {
  echo "building or pushing the test base image failed"; exit 1; }
export CACHECHECK_BASE_IMAGE
echo "base image: $CACHECHECK_BASE_IMAGE"
