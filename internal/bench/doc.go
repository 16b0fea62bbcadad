// Package bench runs real image builds of a Go service with and without a
// deps image, several times each, and reports their timings and the steps
// each builder cached.
package bench
