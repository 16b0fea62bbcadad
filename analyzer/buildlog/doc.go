// Package buildlog reads the logs of image builders (BuildKit, buildah,
// podman, the classic docker builder) into the Dockerfile steps they ran.
package buildlog
