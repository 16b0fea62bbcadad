// Package publish writes deps images to, and finds them in, a target: a
// registry repository, an OCI image layout directory or a docker load
// tarball.
package publish
