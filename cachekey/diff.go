package cachekey

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Diff explains how the inputs of old and new differ, one line per change,
// in the order of the canonical inputs, for example:
//
//	go 1.22 -> 1.23
//	github.com/x/y v1.2.0 -> v1.3.0
//	+github.com/a/b v1.0.0
//	-github.com/c/d v0.1.0
//	+replace example.com/sdk => ../sdk
//	replace ../sdk: go.mod changed
//	go.sum: +3 -1 entries
//
// Lines about a module other than the root one start with its directory
// ("./api: ..."), lines about go.work with "go.work: ". Diff returns nil when
// the keys are equal.
func Diff(old, new *Result) []string {
	if old.Key == new.Key {
		return nil
	}
	oldIn, newIn := index(old.Inputs), index(new.Inputs)
	var out []string
	seen := map[string]bool{}
	sumAdded, sumRemoved := 0, 0
	changedReplaced := map[string]bool{}
	visit := func(line string) {
		in := parseInput(line)
		if seen[in.id] {
			return
		}
		seen[in.id] = true
		o, inOld := oldIn[in.id]
		n, inNew := newIn[in.id]
		switch {
		case in.kind == "sum":
			// Sum lines are counted below.
		case in.kind == "replaced":
			if !equalSets(o, n) && inOld && inNew && !changedReplaced[in.scope] {
				changedReplaced[in.scope] = true
				out = append(out, "replace "+in.scope+": go.mod changed")
			}
		case in.set:
			for _, v := range minus(o, n) {
				out = append(out, in.prefix+"-"+in.label+v)
			}
			for _, v := range minus(n, o) {
				out = append(out, in.prefix+"+"+in.label+v)
			}
		case inOld && inNew:
			if o[0] != n[0] {
				out = append(out, fmt.Sprintf("%s%s%s -> %s", in.prefix, in.label, o[0], n[0]))
			}
		case inOld:
			out = append(out, in.prefix+"-"+in.label+o[0])
		default:
			out = append(out, in.prefix+"+"+in.label+n[0])
		}
	}
	for _, line := range union(old.Inputs, new.Inputs) {
		visit(line)
	}
	oldSums, newSums := sumSet(old.Inputs), sumSet(new.Inputs)
	for s := range newSums {
		if !oldSums[s] {
			sumAdded++
		}
	}
	for s := range oldSums {
		if !newSums[s] {
			sumRemoved++
		}
	}
	if sumAdded+sumRemoved > 0 {
		out = append(out, fmt.Sprintf("go.sum: +%d -%d entries", sumAdded, sumRemoved))
	}
	return out
}

// input is a canonical input line split into the identity of what it sets
// and the value it sets it to.
type input struct {
	kind   string // first field: schema, vendor, work, module, replaced, sum
	scope  string // directory of module and replaced lines
	id     string // what the line sets; lines with the same id are compared
	value  string // what it is set to
	set    bool   // the id names a set of values (exclude, replace, use)
	prefix string // how a change is introduced: "", "./api: ", "go.work: "
	label  string // what precedes the value in the change line
}

func parseInput(line string) input {
	f := strings.SplitN(line, " ", 3)
	in := input{kind: f[0], id: line}
	switch f[0] {
	case "schema", "vendor":
		in.id, in.value, in.label = f[0], strings.Join(f[1:], " "), f[0]+" "
	case "work":
		in.prefix = "go.work: "
		rest := strings.Join(f[1:], " ")
		directive, val, _ := strings.Cut(rest, " ")
		in.id, in.value, in.label = "work "+directive, val, directive+" "
		in.set = directive == "use" || directive == "replace"
		if in.set {
			in.value, in.label = rest, ""
		}
	case "module", "replaced":
		if len(f) < 3 {
			return in
		}
		in.scope = f[1]
		if in.scope != "." {
			in.prefix = in.scope + ": "
		}
		directive, rest, _ := strings.Cut(f[2], " ")
		scopeID := f[0] + " " + f[1] + " "
		switch directive {
		case "require":
			p, v, _ := strings.Cut(rest, " ")
			in.id, in.value, in.label = scopeID+"require "+p, v, p+" "
		case "exclude", "replace":
			in.id, in.value, in.set = scopeID+directive, directive+" "+rest, true
		default: // path, go, toolchain
			in.id, in.value, in.label = scopeID+directive, rest, directive+" "
			if directive == "path" {
				in.label = "module "
			}
		}
		if f[0] == "replaced" {
			in.id = "replaced " + f[1]
		}
	case "sum":
		in.value = line
	}
	return in
}

// sectionRank orders the kinds of input lines as Compute does.
var sectionRank = map[string]int{"schema": 0, "vendor": 1, "module": 2, "work": 2, "replaced": 3, "sum": 4}

// union returns the lines of a and b, sorted as Compute sorts its inputs.
func union(a, b []string) []string {
	all := slices.Concat(a, b)
	rank := func(l string) int {
		kind, _, _ := strings.Cut(l, " ")
		return sectionRank[kind]
	}
	slices.SortFunc(all, func(x, y string) int {
		if c := cmp.Compare(rank(x), rank(y)); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	return slices.Compact(all)
}

// index maps the id of every input to its values.
func index(lines []string) map[string][]string {
	m := map[string][]string{}
	for _, l := range lines {
		in := parseInput(l)
		if in.kind == "replaced" {
			m[in.id] = append(m[in.id], l)
			continue
		}
		m[in.id] = append(m[in.id], in.value)
	}
	return m
}

func sumSet(lines []string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lines {
		if strings.HasPrefix(l, "sum ") {
			m[l] = true
		}
	}
	return m
}

// minus returns the values of a not in b, in order.
func minus(a, b []string) []string {
	inB := map[string]bool{}
	for _, v := range b {
		inB[v] = true
	}
	var out []string
	for _, v := range a {
		if !inB[v] {
			out = append(out, v)
		}
	}
	return out
}

func equalSets(a, b []string) bool {
	return len(minus(a, b)) == 0 && len(minus(b, a)) == 0
}
