package analyzer

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var (
	// locatorRE is where a go command behind make or a script is:
	// "(go build at Makefile:5, run by make build)".
	locatorRE = regexp.MustCompile(` \(go [^()]* at [^()]*\)`)
	// consequenceRE names the step a cause breaks ("go mod download at
	// line 4", "go build"), not the cause.
	consequenceRE = regexp.MustCompile(`\bgo (mod [a-z]+|[a-z]+)( at line \d+)?`)
	// directiveRE is the go.mod or go.work line a CC004 is about.
	directiveRE = regexp.MustCompile(`^(\S+:\d+): `)
	// credentialRE is the variable a CC007 about ARG or ENV names.
	credentialRE = regexp.MustCompile(`^(?:ARG|ENV) (\S+) `)
	// gitDirRE is the .git directory a CC009 is about.
	gitDirRE = regexp.MustCompile(`copies (\S*\.git)\b`)
)

// stageCause is a finding's message without where the go command runs
// and without the step it breaks, in its stage: what is left is the cause.
func stageCause(f Finding) string {
	msg := locatorRE.ReplaceAllString(f.Message, "")
	return f.Stage + ": " + consequenceRE.ReplaceAllString(msg, "go CMD")
}

// findingCauses says, for each rule, what one cause of a finding is, read
// from the finding alone (not from the analyzer's own bookkeeping, so that
// this test checks it). Two findings of a rule with the same cause are one
// problem with one fix, and must be one finding naming every line.
var findingCauses = map[string]func(Finding) string{
	// The COPY that copies source before the download.
	"CC001": func(f Finding) string { return fmt.Sprint(f.Line) },
	// The COPY of go.mod (or go.work) without its sum file.
	"CC002": func(f Finding) string {
		what, _, _ := strings.Cut(f.Message, " before ")
		return fmt.Sprint(f.Line, what)
	},
	// The stage's missing download step, for one module.
	"CC003": stageCause,
	// The replace or use directive: outside the context, absolute, absent
	// or excluded, it is one problem whatever stage downloads; not copied
	// before a download, it is one in each stage.
	"CC004": func(f Finding) string {
		d := directiveRE.FindStringSubmatch(f.Message)
		if d == nil {
			return stageCause(f)
		}
		if strings.Contains(f.Message, "is not copied before") {
			return f.Stage + ": " + d[1]
		}
		return d[1]
	},
	// The stage's vendor/ mismatch.
	"CC005": stageCause,
	// The cache directories a stage's go commands run without.
	"CC006": stageCause,
	// The credential: the ARG or ENV variable, in any stage; a RUN that
	// writes one is its own.
	"CC007": func(f Finding) string {
		if m := credentialRE.FindStringSubmatch(f.Message); m != nil {
			return "variable " + m[1]
		}
		return fmt.Sprint(f.Line)
	},
	// The builder stage's cgo setting.
	"CC008": func(f Finding) string { return f.Stage },
	// The .git directory a stage's copies send.
	"CC009": func(f Finding) string {
		dir := ".git"
		if m := gitDirRE.FindStringSubmatch(f.Message); m != nil {
			dir = m[1]
		}
		return f.Stage + ": " + dir
	},
	// The image of a FROM line.
	"CC010": func(f Finding) string { return fmt.Sprint(f.Line) },
	// A stage to start from the deps image, or its module cache mount.
	"CC011": stageCause,
	// A stage's GOCACHE mount, or its settings that differ.
	"CC012": stageCause,
	// The RUN that cannot be read.
	"CC013": func(f Finding) string { return fmt.Sprint(f.Line) },
}

// TestOneFindingPerCause analyzes every case of the corpus (as
// TestFixesValid gathers them) and fails when two findings of one rule
// have the same cause, as findingCauses defines it.
func TestOneFindingPerCause(t *testing.T) {
	for _, r := range Rules {
		if findingCauses[r.ID] == nil {
			t.Errorf("rule %s has no cause in findingCauses", r.ID)
		}
	}
	var nCases, nFindings int
	for _, c := range fixCases(t) {
		_, findings, err := analyzeCase(c, c.fsys)
		if err != nil {
			continue
		}
		nCases++
		nFindings += len(findings)
		seen := map[string]Finding{}
		for _, f := range findings {
			cause := findingCauses[f.Rule](f)
			key := f.Rule + " " + cause
			if g, ok := seen[key]; ok {
				t.Errorf("%s: %s at lines %d and %d has one cause (%s), so it must be one finding:\n  %d: %s\n  %d: %s", c.name, f.Rule, g.Line, f.Line, cause, g.Line, g.Message, f.Line, f.Message)
				continue
			}
			seen[key] = f
		}
	}
	t.Logf("one finding per cause: %d cases, %d findings", nCases, nFindings)
}
