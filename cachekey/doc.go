// Package cachekey computes semantic dependency cache keys for Go modules
// and workspaces: a key changes exactly when the output of
// `go mod download` can change, and two keys can be compared input by input.
//
// The package reads go.mod, go.sum, go.work and go.work.sum through an
// [io/fs.FS] and imports only the standard library and golang.org/x/mod.
package cachekey
