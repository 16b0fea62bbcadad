// Package buildcache compiles the dependency packages of a Go module into a
// fresh build cache (GOCACHE) with the exact settings of the build that will
// use it, and packs that cache as a reproducible image layer whose entries
// the go command's cache trimming keeps.
package buildcache
