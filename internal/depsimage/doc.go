// Package depsimage packs a Go module cache into reproducible OCI layers,
// split over buckets so that bumping one module changes one layer, and builds
// deps-only images from them.
package depsimage
