// Package warm builds and publishes the deps image of a Go module or
// workspace (download, verify, pack, build cache, publish) and finds the
// published image nearest to a key.
package warm
