// Package testenv gives tests the services that .ci/test.sh starts, and
// makes their absence a failure in CI and a skip elsewhere.
package testenv

import (
	"os"
	"testing"
)

// Integration reports whether the test runs under .ci/test.sh, where every
// service must be present.
func Integration() bool { return os.Getenv("CACHECHECK_INTEGRATION") == "1" }

// Getenv returns the value of the environment variable name, which a
// .ci/setup.d script exports for a service. When it is unset, the test fails
// under .ci/test.sh and is skipped elsewhere, saying how to run it.
func Getenv(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if Integration() {
		t.Fatalf("%s is not set: %s did not start; .ci/test.sh must start it", name, what)
	}
	t.Skipf("%s is not set: %s is not running; run 'bash .ci/test.sh' to start it and run this test", name, what)
	return ""
}

// Short reports whether the long tests are left out: under go test -short,
// the contributor's quick loop, but never under .ci/test.sh
// (CACHECHECK_INTEGRATION=1), where every test runs, -short or not.
func Short() bool { return testing.Short() && !Integration() }

// SkipIfShort skips a long test (the go command compiling the standard
// library or a real module set, a stress loop) when Short, saying why it
// is long and how to run it.
func SkipIfShort(t testing.TB, why string) {
	t.Helper()
	if Short() {
		t.Skipf("long test (%s): left out under -short; run it without -short, or with 'bash .ci/test.sh'", why)
	}
}
