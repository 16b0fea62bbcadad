// Package modload downloads the modules of a Go module or workspace with the
// real go command into a private module cache and verifies them against
// go.sum the way `go mod verify` does.
package modload
