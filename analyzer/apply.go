package analyzer

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Fixed is the result of ApplyFixes.
type Fixed struct {
	// Files are the new contents of the files the edits change, by name
	// (the finding's File, or the edit's).
	Files map[string][]byte
	// Created names the files of Files that did not exist.
	Created []string
	// Applied and Skipped are the findings whose edits were applied, and
	// those left out because an edit overlaps one of an earlier finding or
	// lies outside its file (apply again to the result to fix them).
	Applied, Skipped []Finding
}

// ApplyFixes applies the edits of every finding at once to the files read
// by read (which returns an error wrapping fs.ErrNotExist for a file that
// does not exist: an edit may create it), in memory. A finding's edits are
// applied together or not at all; a finding whose edits overlap those of
// an earlier finding is skipped, so the result is the same for the same
// findings in the same order. Findings without edits are ignored.
func ApplyFixes(findings []Finding, read func(name string) ([]byte, error)) (*Fixed, error) {
	type file struct {
		lines   []string // with their line endings
		crlf    bool
		created bool
		edits   []Edit
	}
	files := map[string]*file{}
	var order []string
	load := func(name string) (*file, error) {
		if f, ok := files[name]; ok {
			return f, nil
		}
		data, err := read(name)
		f := &file{}
		switch {
		case errors.Is(err, fs.ErrNotExist):
			f.created = true
		case err != nil:
			return nil, fmt.Errorf("reading %q to fix it: %w", name, err)
		default:
			s := string(data)
			f.crlf = strings.Contains(s, "\r\n")
			f.lines = strings.SplitAfter(s, "\n")
			if f.lines[len(f.lines)-1] == "" {
				f.lines = f.lines[:len(f.lines)-1]
			}
		}
		files[name] = f
		order = append(order, name)
		return f, nil
	}
	out := &Fixed{Files: map[string][]byte{}}
	for _, fd := range findings {
		if len(fd.Edits) == 0 {
			continue
		}
		ok := true
		var targets []*file
		for _, e := range fd.Edits {
			name := e.File
			if name == "" {
				name = fd.File
			}
			f, err := load(name)
			if err != nil {
				return nil, err
			}
			targets = append(targets, f)
			if !fits(e, len(f.lines)) || slices.ContainsFunc(f.edits, func(o Edit) bool { return o != e && overlaps(o, e) }) {
				ok = false
			}
		}
		if !ok {
			out.Skipped = append(out.Skipped, fd)
			continue
		}
		for i, e := range fd.Edits {
			if !slices.Contains(targets[i].edits, e) {
				targets[i].edits = append(targets[i].edits, e)
			}
		}
		out.Applied = append(out.Applied, fd)
	}
	for _, name := range order {
		f := files[name]
		if len(f.edits) == 0 {
			continue
		}
		out.Files[name] = []byte(apply(f.lines, f.edits, f.crlf))
		if f.created {
			out.Created = append(out.Created, name)
		}
	}
	return out, nil
}

// fits reports whether e lies within a file of n lines.
func fits(e Edit, n int) bool {
	return e.Line >= 1 && e.Line <= n+1 && e.EndLine >= e.Line-1 && e.EndLine <= n
}

// overlaps reports whether two edits touch the same lines: two
// replacements sharing a line, or an insertion strictly inside a
// replaced range. Insertions at one place do not overlap: they are
// applied in order.
func overlaps(x, y Edit) bool {
	switch {
	case x.Insert() && y.Insert():
		return false
	case x.Insert():
		return y.Line < x.Line && x.Line <= y.EndLine
	case y.Insert():
		return x.Line < y.Line && y.Line <= x.EndLine
	}
	return x.Line <= y.EndLine && y.Line <= x.EndLine
}

// apply writes lines with the non-overlapping edits applied: at each line,
// the insertions before it in order, then the line or its replacement.
func apply(lines []string, edits []Edit, crlf bool) string {
	var b strings.Builder
	text := func(s string) {
		if crlf {
			s = strings.ReplaceAll(s, "\n", "\r\n")
		}
		b.WriteString(s)
	}
	for i := 1; i <= len(lines)+1; {
		for _, e := range edits {
			if e.Insert() && e.Line == i {
				if i == len(lines)+1 && i > 1 && !strings.HasSuffix(lines[i-2], "\n") && !strings.HasSuffix(b.String(), "\n") {
					text("\n")
				}
				text(e.Text)
			}
		}
		if i > len(lines) {
			break
		}
		j := slices.IndexFunc(edits, func(e Edit) bool { return !e.Insert() && e.Line == i })
		if j < 0 {
			b.WriteString(lines[i-1])
			i++
			continue
		}
		text(edits[j].Text)
		i = edits[j].EndLine + 1
	}
	return b.String()
}
