// Package gosettings models the settings of a go build that decide whether
// a build cache's compiled packages can be reused, and reads them from go
// command lines; it uses only the standard library.
package gosettings
