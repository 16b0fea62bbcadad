// Package bench runs real image builds of a Go service with and without a
// deps image, several times each, and records their timings and the steps
// each builder cached as a [reports.BenchRun], which package reports renders.
package bench
