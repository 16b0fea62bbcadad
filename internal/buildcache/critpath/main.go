// Critpath prints the critical path of a go build from the action graph
// that `go build -debug-actiongraph=FILE` writes: the chain of actions,
// each started when the last of its dependencies was done, that ends with
// the build's last action, with the time each took and the total of all
// compiles and links. bench.sh uses it to show what a build with the deps
// image's build cache still spends its time on.
//
//	go run ./internal/buildcache/critpath FILE
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// action is the part of an action graph entry critpath reads.
type action struct {
	ID        int
	Mode      string
	Package   string
	Deps      []int
	TimeStart time.Time
	TimeDone  time.Time
	Cmd       []string
}

// ran reports whether the action ran a command (a compile or a link), not
// only checked the cache.
func (a *action) ran() bool { return len(a.Cmd) > 0 }

func (a *action) took() time.Duration { return a.TimeDone.Sub(a.TimeStart) }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: critpath ACTIONGRAPH.json (from go build -debug-actiongraph)")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "critpath:", err)
		os.Exit(1)
	}
	if err := report(os.Stdout, data); err != nil {
		fmt.Fprintf(os.Stderr, "critpath: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// report writes the critical path of the action graph in data to w.
func report(w io.Writer, data []byte) error {
	var actions []action
	if err := json.Unmarshal(data, &actions); err != nil {
		return err
	}
	byID := map[int]*action{}
	var last *action
	var first time.Time
	counts := map[string]int{}
	sums := map[string]time.Duration{}
	for i := range actions {
		a := &actions[i]
		byID[a.ID] = a
		if a.TimeStart.IsZero() {
			continue
		}
		if first.IsZero() || a.TimeStart.Before(first) {
			first = a.TimeStart
		}
		if last == nil || a.TimeDone.After(last.TimeDone) {
			last = a
		}
		if a.ran() {
			counts[a.Mode]++
			sums[a.Mode] += a.took()
		}
	}
	if last == nil {
		return fmt.Errorf("no action has times: was it written by go build -debug-actiongraph?")
	}
	// Walk back from the last action through the dependency done last.
	var path []*action
	for a := last; a != nil; {
		path = append(path, a)
		var next *action
		for _, id := range a.Deps {
			d := byID[id]
			if d != nil && !d.TimeDone.IsZero() && (next == nil || d.TimeDone.After(next.TimeDone)) {
				next = d
			}
		}
		a = next
	}
	fmt.Fprintf(w, "build: %.1f s; %d compiles took %.1f s in all, %d links %.1f s\n",
		last.TimeDone.Sub(first).Seconds(), counts["build"], sums["build"].Seconds(), counts["link"], sums["link"].Seconds())
	fmt.Fprintln(w, "critical path (actions that ran a command; start, duration, action):")
	for i := len(path) - 1; i >= 0; i-- {
		a := path[i]
		if a.ran() {
			fmt.Fprintf(w, "  %6.1f s %5.1f s  %s %s\n", a.TimeStart.Sub(first).Seconds(), a.took().Seconds(), a.Mode, a.Package)
		}
	}
	return nil
}
