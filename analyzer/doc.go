// Package analyzer reads a Dockerfile, its build context and .dockerignore
// the way BuildKit does, and reports how the layer cache will treat the Go
// module download and build.
package analyzer
