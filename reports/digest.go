package reports

import (
	"regexp"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// ShortDigestLen is how many hex digits of a sha256 digest the text
// tables show.
const ShortDigestLen = 12

var digestRE = regexp.MustCompile(`sha256:([0-9a-f]{12})[0-9a-f]{52}`)

// ShortDigests returns s with every sha256 digest in it cut to its first
// [ShortDigestLen] hex digits and an ellipsis: "sha256:95470b1daa56…".
// The text tables show digests so, to stay within a terminal's width;
// the JSON and markdown forms, and the lines of text meant to be copied
// (a warm's or ref's reference), keep them whole.
func ShortDigests(s string) string {
	return digestRE.ReplaceAllString(s, "sha256:${1}…")
}

// shortDigestCells is the row filter of the text tables.
func shortDigestCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = ShortDigests(c)
	}
	return out
}

// withShortDigests shortens the digests of a text table's rows.
func withShortDigests() tablewriter.Option {
	return tablewriter.WithRowFilter(tw.CellFilter{Global: shortDigestCells})
}
