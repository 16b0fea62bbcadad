// Package buildlog reads the logs of image builders (BuildKit, buildah,
// podman, the classic docker builder) into the Dockerfile steps they ran,
// and the go command's own -v and -x output into the packages it compiled
// and the modules it downloaded.
package buildlog
