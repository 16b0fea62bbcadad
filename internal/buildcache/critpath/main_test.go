package main

import (
	"bytes"
	"testing"
)

// A build of main importing a and b: b is compiled after a; the link waits
// for main. The critical path goes through the dependency done last.
const graph = `[
{"ID": 0, "Mode": "link-install", "Package": "example.com/m", "Deps": [1],
 "TimeStart": "2026-01-01T00:00:09.000Z", "TimeDone": "2026-01-01T00:00:09.100Z"},
{"ID": 1, "Mode": "link", "Package": "example.com/m", "Deps": [2, 3],
 "TimeStart": "2026-01-01T00:00:07.000Z", "TimeDone": "2026-01-01T00:00:09.000Z", "Cmd": ["link"]},
{"ID": 2, "Mode": "build", "Package": "example.com/m", "Deps": [3, 4, 5],
 "TimeStart": "2026-01-01T00:00:05.000Z", "TimeDone": "2026-01-01T00:00:07.000Z", "Cmd": ["compile"]},
{"ID": 3, "Mode": "build", "Package": "fmt", "Deps": [],
 "TimeStart": "2026-01-01T00:00:00.000Z", "TimeDone": "2026-01-01T00:00:00.010Z"},
{"ID": 4, "Mode": "build", "Package": "example.com/m/a", "Deps": [3],
 "TimeStart": "2026-01-01T00:00:00.010Z", "TimeDone": "2026-01-01T00:00:04.000Z", "Cmd": ["compile"]},
{"ID": 5, "Mode": "build", "Package": "example.com/m/b", "Deps": [3],
 "TimeStart": "2026-01-01T00:00:00.010Z", "TimeDone": "2026-01-01T00:00:05.000Z", "Cmd": ["compile"]},
{"ID": 6, "Mode": "nop", "Deps": []}
]`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	if err := report(&out, []byte(graph)); err != nil {
		t.Fatal(err)
	}
	want := `build: 9.1 s; 3 compiles took 11.0 s in all, 1 links 2.0 s
critical path (actions that ran a command; start, duration, action):
     0.0 s   5.0 s  build example.com/m/b
     5.0 s   2.0 s  build example.com/m
     7.0 s   2.0 s  link example.com/m
`
	if out.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReportNoTimes(t *testing.T) {
	if err := report(&bytes.Buffer{}, []byte(`[{"ID": 0, "Mode": "nop"}]`)); err == nil {
		t.Error("report of a graph without times: no error")
	}
	if err := report(&bytes.Buffer{}, []byte(`{`)); err == nil {
		t.Error("report of bad JSON: no error")
	}
}
