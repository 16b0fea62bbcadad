package analyzer

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Limits on ARG and ENV expansion. A Dockerfile is untrusted input (a pull
// request's), and expansion can grow exponentially (ARG A=${A}${A} doubles
// A on every line) or quadratically (${A//?/${A}}). Each word's result is
// bounded before BuildKit's lexer expands it, so the lexer never builds a
// string over the limits; the totals bound the work over the whole file.
const (
	// maxWordExpansion bounds the result of expanding one word.
	maxWordExpansion = 1 << 20
	// maxPatternExpansion bounds a word that uses a pattern modifier
	// (${A#p}, ${A%p}, ${A/p/r}): matching is a regular expression over
	// the value, its cost the product of the two lengths.
	maxPatternExpansion = 16 << 10
	// maxTotalExpansion bounds the sum of the results of every word of
	// the Dockerfile.
	maxTotalExpansion = 16 << 20
	// maxTotalPatternWork bounds the sum, over the words with a pattern
	// modifier, of the square of their bound.
	maxTotalPatternWork = 1 << 28
	// maxScopeEntries bounds the ARG and ENV values the analyzer keeps:
	// the scope is copied at each ARG or ENV instruction (and shared by
	// the instructions in between), so a Dockerfile of N ARGs would
	// otherwise keep N²/2 values.
	maxScopeEntries = 1 << 18
	// maxInstructions bounds the instructions of a Dockerfile.
	maxInstructions = 25000
)

// expander expands words against a scope with BuildKit's lexer, within the
// limits above.
type expander struct {
	lex     *shell.Lex
	total   int64
	pattern int64
	entries int
}

// expansionError is a word whose expansion would exceed a limit.
type expansionError struct {
	word  string
	bound int64
	limit int64
	what  string
}

func (e *expansionError) Error() string {
	return fmt.Sprintf("expanding %s could make %s, over the limit of %s; %s",
		quoteShort(e.word), byteSize(e.bound), byteSize(e.limit), e.what)
}

// quoteShort quotes s, cut to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n == maxBound:
		return "more than 8 EiB"
	}
	return fmt.Sprintf("%d bytes", n)
}

const maxBound = 1<<63 - 1

// expand expands word against env like BuildKit does, or returns an error
// when the result could exceed the limits.
func (x *expander) expand(word string, env shell.EnvGetter) (string, error) {
	if why := scannerTrouble(word); why != "" {
		// BuildKit's lexer would print text/scanner errors to stderr.
		return "", fmt.Errorf("%s %s; save the Dockerfile as UTF-8 text", quoteShort(word), why)
	}
	if !containsDollar(word) {
		// Only a $ expands; quotes and escapes only shrink the word.
		x.total += int64(len(word))
		if x.total > maxTotalExpansion {
			return "", x.totalError()
		}
		return x.process(word, env)
	}
	bound, pattern := wordBound(word, env)
	limit := int64(maxWordExpansion)
	if pattern {
		limit = maxPatternExpansion
	}
	if bound > limit {
		what := "shorten the ARG or ENV values it refers to"
		if pattern {
			what = "use pattern modifiers (#, %, /) on short values only"
		}
		return "", &expansionError{word: word, bound: bound, limit: limit, what: what}
	}
	x.total += bound
	if x.total > maxTotalExpansion {
		return "", x.totalError()
	}
	if pattern {
		x.pattern += bound * bound
		if x.pattern > maxTotalPatternWork {
			return "", fmt.Errorf("expanding %s: ARG and ENV pattern modifiers (#, %%, /) in this Dockerfile match too much text in total; use them on short values only", quoteShort(word))
		}
	}
	return x.process(word, env)
}

// process runs BuildKit's lexer on word, with a clearer message for a
// missing '}', which it reports as an unsupported modifier EOF.
func (x *expander) process(word string, env shell.EnvGetter) (string, error) {
	v, _, err := x.lex.ProcessWord(word, env)
	if err != nil && strings.Contains(err.Error(), "unsupported modifier (\uFFFD)") {
		return "", fmt.Errorf("expanding %s: syntax error: missing '}'", quoteShort(word))
	}
	return v, err
}

func (x *expander) totalError() error {
	return fmt.Errorf("ARG and ENV values in this Dockerfile expand to more than %s in total; an ARG or ENV that refers to itself more than once grows exponentially", byteSize(maxTotalExpansion))
}

// addEntries counts n more ARG or ENV values kept in scope.
func (x *expander) addEntries(n int) error {
	x.entries += n
	if x.entries > maxScopeEntries {
		return fmt.Errorf("too many ARG and ENV values to track: each ARG or ENV instruction copies the variables in scope, and together they make more than %d copies; declare the variables in fewer ARG or ENV instructions (one can declare many)", maxScopeEntries)
	}
	return nil
}

func containsDollar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			return true
		}
	}
	return false
}

// wordBound returns an upper bound of the length of word expanded against
// env, and whether word uses a pattern modifier. Every value the lexer
// substitutes is named after a $ in word, so the result is at most word
// plus the value named after each $ (counted even when escaped or quoted),
// except that ${A/p/r} can put r at every position of A.
func wordBound(word string, env shell.EnvGetter) (bound int64, pattern bool) {
	bound = runeBound(word)
	subst := 0
	for i := 0; i < len(word); i++ {
		if word[i] != '$' {
			continue
		}
		j := i + 1
		braced := j < len(word) && word[j] == '{'
		if braced {
			j++
		}
		name, end := scanName(word, j)
		if name != "" {
			if v, ok := env.Get(name); ok {
				bound = addSat(bound, runeBound(v))
			}
		}
		if braced && end < len(word) {
			switch word[end] {
			case '#', '%':
				pattern = true
			case '/':
				pattern = true
				subst++
			case ':':
				// ${A:-x} ${A:+x} ${A:?x}: no pattern.
			}
		}
	}
	b0 := bound
	for range subst {
		bound = addSat(mulSat(bound, addSat(b0, 2)), b0)
	}
	return bound, pattern
}

// runeBound bounds the bytes s can become in an expansion: BuildKit's
// lexer works on runes, and its pattern operations (${A%p}, ${A/p/r}) turn
// each byte that is not UTF-8 into U+FFFD, three bytes.
func runeBound(s string) int64 {
	if utf8.ValidString(s) {
		return int64(len(s))
	}
	return 3 * int64(len(s))
}

// scanName reads a variable name at word[i:] the way BuildKit's lexer
// does: digits, one special parameter, or letters, digits and '_'.
func scanName(word string, i int) (string, int) {
	start := i
	if i >= len(word) {
		return "", i
	}
	r, size := utf8.DecodeRuneInString(word[i:])
	switch {
	case unicode.IsDigit(r):
		for i < len(word) {
			r, size := utf8.DecodeRuneInString(word[i:])
			if !unicode.IsDigit(r) {
				break
			}
			i += size
		}
		return word[start:i], i
	case isSpecialParam(r):
		return word[i : i+size], i + size
	}
	for i < len(word) {
		r, size := utf8.DecodeRuneInString(word[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
			break
		}
		i += size
	}
	return word[start:i], i
}

func isSpecialParam(r rune) bool {
	switch r {
	case '@', '*', '#', '?', '-', '$', '!', '0':
		return true
	}
	return false
}

func addSat(a, b int64) int64 {
	if a > maxBound-b {
		return maxBound
	}
	return a + b
}

func mulSat(a, b int64) int64 {
	if a != 0 && b > maxBound/a {
		return maxBound
	}
	return a * b
}

// scope is the ENV and ARG values seen by an instruction: ENV wins over
// ARG of the same name, as in BuildKit. It reads the two maps without
// merging them.
type scope struct{ env, args map[string]string }

func (s scope) Get(k string) (string, bool) {
	if v, ok := s.env[k]; ok {
		return v, true
	}
	v, ok := s.args[k]
	return v, ok
}

func (s scope) Keys() []string {
	keys := make([]string, 0, len(s.env)+len(s.args))
	for k := range s.env {
		keys = append(keys, k)
	}
	for k := range s.args {
		if _, ok := s.env[k]; !ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// scannerTrouble says why text/scanner, which BuildKit's lexer and
// patternmatcher use with its default error handler, would print an error
// to stderr about s, or returns "".
func scannerTrouble(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL byte"
	case strings.Contains(s, "\uFEFF"):
		return "holds a byte order mark"
	}
	return ""
}
