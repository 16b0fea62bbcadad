package cachekey

import (
	"bytes"
	"fmt"
	"strings"
)

// SumEntry is one line of a go.sum file.
type SumEntry struct {
	Path    string // module path
	Version string // module version, with a "/go.mod" suffix for go.mod hashes
	Hash    string // hash, such as "h1:…"
}

func (e SumEntry) String() string { return e.Path + " " + e.Version + " " + e.Hash }

// emptyGoModHash is the hash of an empty go.mod file; the go command ignores
// go.sum lines carrying it, and so does ParseSum.
const emptyGoModHash = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// SumError is a syntax error in a go.sum file.
type SumError struct {
	Filename string
	Line     int // 1-based
	Err      string
}

func (e *SumError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Filename, e.Line, e.Err)
}

// ParseSum parses the content of a go.sum file. It accepts what the go
// command accepts: lines of three space-separated fields, blank lines and
// CRLF line endings. The returned entries are in file order, duplicates
// included. filename is used in errors only.
func ParseSum(filename string, data []byte) ([]SumEntry, error) {
	entries := make([]SumEntry, 0, bytes.Count(data, []byte("\n"))+1)
	lineno := 0
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		lineno++
		f := strings.Fields(string(line))
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, &SumError{filename, lineno, fmt.Sprintf("want 3 fields (module path, version, hash), have %d", len(f))}
		}
		if f[2] == emptyGoModHash {
			continue
		}
		alg, digest, ok := strings.Cut(f[2], ":")
		if !ok || alg == "" || digest == "" {
			return nil, &SumError{filename, lineno, fmt.Sprintf("malformed hash %q: want ALGORITHM:DIGEST, such as h1:…", f[2])}
		}
		entries = append(entries, SumEntry{Path: f[0], Version: f[1], Hash: f[2]})
	}
	return entries, nil
}
