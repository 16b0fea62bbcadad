package analyzer

import (
	"strings"

	"github.com/cachecheck/cachecheck/reports"
)

// Finding is one problem the analyzer found.
type Finding = reports.Finding

// Rule describes one check, with a stable ID.
type Rule = reports.Rule

// Rules lists every rule in ID order.
var Rules = []*Rule{}

// LookupRule returns the rule with the given ID or slug (case-insensitive),
// or nil.
func LookupRule(id string) *Rule {
	for _, r := range Rules {
		if strings.EqualFold(r.ID, id) || strings.EqualFold(r.Slug, id) {
			return r
		}
	}
	return nil
}
