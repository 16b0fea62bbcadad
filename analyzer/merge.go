package analyzer

import (
	"fmt"
	"slices"
	"strings"
)

// mergeCauses reports the findings of one rule with the same cause
// (causes[i] for findings[i]; "" is a cause of its own) as one: the
// finding at the first line, at the highest severity of the group, whose
// message names the other lines, whose edits are all of theirs, each once
// (applying them is applying theirs), and whose fix describes those edits
// followed by each distinct note or text-only fix (one about "this RUN"
// names its line).
func (a *analysis) mergeCauses(findings []Finding, causes []string) []Finding {
	groups := map[string][]int{}
	var order []string
	for i, f := range findings {
		if causes[i] == "" {
			continue
		}
		k := f.Rule + "\x00" + causes[i]
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	drop := map[int]bool{}
	for _, k := range order {
		idx := groups[k]
		if len(idx) < 2 {
			continue
		}
		slices.SortStableFunc(idx, func(x, y int) int { return findings[x].Line - findings[y].Line })
		m := findings[idx[0]]
		var lines []string
		var notes []string
		for _, i := range idx {
			f := findings[i]
			if f.Severity > m.Severity {
				m.Severity = f.Severity
			}
			if i != idx[0] {
				drop[i] = true
				if l := fmt.Sprint(f.Line); f.Line != m.Line && !slices.Contains(lines, l) {
					lines = append(lines, l)
				}
			}
			// A fix with edits is their descriptions, then its note
			// (fixText).
			note := f.Fix
			if len(f.Edits) > 0 {
				parts := strings.SplitN(f.Fix, "; ", len(f.Edits)+1)
				note = ""
				if len(parts) > len(f.Edits) {
					note = parts[len(f.Edits)]
				}
			}
			note = strings.ReplaceAll(note, "this RUN", fmt.Sprintf("the RUN at line %d", f.Line))
			if note != "" && !slices.Contains(notes, note) {
				notes = append(notes, note)
			}
			if i == idx[0] {
				m.Edits = slices.Clone(f.Edits)
				continue
			}
			for _, e := range f.Edits {
				if !slices.Contains(m.Edits, e) {
					m.Edits = append(m.Edits, e)
				}
			}
		}
		if len(lines) > 0 {
			noun := "line"
			if len(lines) > 1 {
				noun = "lines"
			}
			m.Message += fmt.Sprintf(" (the same at %s %s)", noun, joinAnd(lines))
		}
		m.Fix = a.fixText(m.Edits, strings.Join(notes, "; "))
		findings[idx[0]] = m
	}
	if len(drop) == 0 {
		return findings
	}
	out := findings[:0:0]
	for i, f := range findings {
		if !drop[i] {
			out = append(out, f)
		}
	}
	return out
}

// joinAnd joins words as "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
