// Package realservice holds the end-to-end test of cachecheck on a real
// public Go service that nobody here wrote (see TestRealService): the
// fixtures were written to pass, this service was not.
package realservice
