package analyzer

import (
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
)

// walkMatcher gives, for the paths of a walk of the build context, the
// results of patternmatcher's MatchesUsingParentResults (what BuildKit's
// walker calls), faster: a wildcard pattern is a regular expression there,
// tried on every path, and a backtracking one (`**/*.log`) is most of the
// time of listing a large context. Here a pattern is first checked against
// the literal text it must start and end with ("" and ".log"), and the
// regular expression runs only on the paths that pass.
type walkMatcher struct {
	pm *patternmatcher.PatternMatcher
	// patterns is nil when a pattern cannot be matched alone (below):
	// then every path goes to pm.
	patterns []walkPattern
}

type walkPattern struct {
	exclusion bool
	// not is "!PATTERN": one pattern, an exclusion, whose match against
	// a path with its parent matched is the pattern's own match negated,
	// with nothing inherited from parents. ("!" keeps the pattern as
	// written: a pattern of its own could start with "!" itself.)
	not          *patternmatcher.PatternMatcher
	head, tail   string // literal text a match starts and ends with
	wildcardFree bool   // no regular expression: match directly
}

// walkInfo is what a directory's match passes to its children.
type walkInfo struct {
	results []bool
	info    patternmatcher.MatchInfo
}

func newWalkMatcher(pm *patternmatcher.PatternMatcher) *walkMatcher {
	m := &walkMatcher{pm: pm}
	var patterns []walkPattern
	for _, p := range pm.Patterns() {
		s := p.String()
		not, err := patternmatcher.New([]string{"!" + s})
		if err != nil || len(not.Patterns()) != 1 || not.Patterns()[0].String() != s {
			// Read back otherwise ("a " after cleaning "a /"): leave
			// every path to pm.
			return m
		}
		// A pattern that does not compile ("0*[") is an error from pm
		// only on the paths whose match reaches it: the literal text
		// would skip it on the others. Leave every path to pm.
		//lint:ignore SA1019 deprecated for several patterns, exact for one
		if _, err := not.MatchesUsingParentResult(s, true); err != nil {
			return m
		}
		wp := walkPattern{exclusion: p.Exclusion(), not: not}
		// The characters that make a regular expression of a pattern,
		// '^' included: patternmatcher passes it through unescaped.
		const meta = `*?[]\^`
		switch i := strings.IndexAny(s, meta); {
		case i < 0:
			wp.wildcardFree = true
		case strings.ContainsAny(s, "|{}\\\uFFFD"):
			// Passed through unescaped too (patternmatcher's escape
			// table misses them): "*|" matches every path, "a{0}"
			// the empty one; `\X` is the regular expression's escape
			// (`\0` a NUL, `\x41` an "A", and on Windows every
			// separator); a U+FFFD matches any byte that is not UTF-8.
			// No literal text is certain: the expression decides.
		default:
			wp.head = s[:i]
			// "**/" may match nothing, taking its "/" with it: "**/b"
			// matches "b", so the tail of "**/b" is "b".
			wp.tail = strings.TrimPrefix(s[strings.LastIndexAny(s, meta)+1:], string(filepath.Separator))
		}
		patterns = append(patterns, wp)
	}
	m.patterns = patterns
	return m
}

// match reports whether file (slash-separated, relative) is excluded,
// given what the match of its parent directory returned (the zero value
// at the top), and returns what to pass to its children, as
// MatchesUsingParentResults does. A file that is not a directory has no
// children: dir false leaves the results out.
func (m *walkMatcher) match(file string, dir bool, parent walkInfo) (bool, walkInfo, error) {
	if m.patterns == nil {
		ok, info, err := m.pm.MatchesUsingParentResults(file, parent.info)
		return ok, walkInfo{info: info}, err
	}
	file = filepath.FromSlash(file)
	matched := false
	var results []bool
	if dir {
		results = make([]bool, len(m.patterns))
	}
	for i, p := range m.patterns {
		match := parent.results != nil && parent.results[i]
		if !match {
			// An inclusion already matched, or an exclusion with
			// nothing to exclude from, changes nothing.
			if p.exclusion != matched {
				continue
			}
			if p.wildcardFree || strings.HasPrefix(file, p.head) && strings.HasSuffix(file, p.tail) {
				//lint:ignore SA1019 deprecated for several patterns, exact for one
				kept, err := p.not.MatchesUsingParentResult(file, true)
				if err != nil {
					return false, walkInfo{}, err
				}
				match = !kept
			}
		}
		if dir {
			results[i] = match
		}
		if match {
			matched = !p.exclusion
		}
	}
	return matched, walkInfo{results: results}, nil
}
