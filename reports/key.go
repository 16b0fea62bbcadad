package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/cachecheck/cachecheck/cachekey"
)

// Key is what `cachecheck key` computed: the dependency cache key of a
// module or workspace and the canonical inputs it hashes.
type Key struct {
	Header
	Key       cachekey.Key `json:"key"`
	Dir       string       `json:"dir"` // in slash form
	Workspace bool         `json:"workspace"`
	Inputs    []string     `json:"inputs"`

	// Explain makes the text form the inputs, one per line, and then
	// "key KEY", as key --explain prints it. It is not part of the JSON
	// form.
	Explain bool `json:"-"`
}

func (*Key) Kind() string { return "key" }

// WriteText writes the key, or with Explain the inputs and the key.
func (d *Key) WriteText(w io.Writer) error {
	if !d.Explain {
		_, err := fmt.Fprintln(w, d.Key)
		return err
	}
	var b strings.Builder
	for _, line := range d.Inputs {
		fmt.Fprintln(&b, line)
	}
	fmt.Fprintf(&b, "key %s\n", d.Key)
	_, err := io.WriteString(w, b.String())
	return err
}

// KeyDiff is what `cachecheck key --diff` found: the keys of two
// versions of a module or workspace and how their inputs differ.
type KeyDiff struct {
	Header
	Old  KeySide `json:"old"`
	New  KeySide `json:"new"`
	Same bool    `json:"same"`
	// Changes are the differences, as cachekey.Diff explains them; never
	// nil, so that the JSON form holds a list.
	Changes []string `json:"changes"`
}

// KeySide is one side of a KeyDiff: its key and where it was read (a
// directory, or REV:DIR of a git revision).
type KeySide struct {
	Key    cachekey.Key `json:"key"`
	Source string       `json:"source"`
}

func (*KeyDiff) Kind() string { return "key-diff" }

// WriteText writes "same key" or the two keys and the changes, one per
// line.
func (d *KeyDiff) WriteText(w io.Writer) error {
	if d.Same {
		_, err := fmt.Fprintf(w, "same key %s for %s and %s\n", d.New.Key, d.Old.Source, d.New.Source)
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "key %s (%s) -> %s (%s)\n", d.Old.Key, d.Old.Source, d.New.Key, d.New.Source)
	for _, c := range d.Changes {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the keys and the changes as a list, for a pull
// request comment.
func (d *KeyDiff) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	if d.Same {
		fmt.Fprintf(&b, "**Dependency key:** unchanged, `%s` for `%s` and `%s`\n", d.New.Key, mdCode(d.Old.Source), mdCode(d.New.Source))
	} else {
		fmt.Fprintf(&b, "**Dependency key:** `%s` (`%s`) → `%s` (`%s`)\n\n", d.Old.Key, mdCode(d.Old.Source), d.New.Key, mdCode(d.New.Source))
		for _, c := range d.Changes {
			fmt.Fprintf(&b, "- %s\n", mdCell(c))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
