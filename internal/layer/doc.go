// Package layer turns a sorted list of files into a reproducible, compressed
// image layer whose digests are computed in one pass while it is written.
package layer
