package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// Format is a form a document is rendered in.
type Format string

const (
	Text     Format = "text"
	Markdown Format = "markdown"
	JSON     Format = "json"
	SARIF    Format = "sarif"
)

// A Doc is what one cachecheck command reports: a warm, a key, a prune, a
// prediction, a bench run, a pull-request report. Each kind has one JSON
// shape, opened by a Header, and renders itself as text; the kinds a pull
// request shows render as markdown too. Write renders a Doc in a Format;
// Read reads its JSON form back, so that any output can be rendered again
// (`cachecheck render FILE.json`).
type Doc interface {
	Kind() string
	WriteText(io.Writer) error
	header() *Header
}

// A MarkdownDoc is a Doc that has a markdown form.
type MarkdownDoc interface {
	Doc
	WriteMarkdown(io.Writer) error
}

// A SARIFDoc is a Doc that has a SARIF form: findings, for code scanning.
type SARIFDoc interface {
	Doc
	WriteSARIF(io.Writer) error
}

// Header opens every JSON document this package writes: the protocol
// version and the kind of document. Doc types embed it.
type Header struct {
	ProtocolVersion int    `json:"protocol_version"`
	DocKind         string `json:"kind,omitempty"`
}

func (h *Header) header() *Header { return h }

// kinds are the documents Read knows, by Kind.
var kinds = map[string]func() Doc{
	"report":     func() Doc { return new(Report) },
	"prune":      func() Doc { return new(Prune) },
	"prune-gc":   func() Doc { return new(PruneGC) },
	"prediction": func() Doc { return new(Prediction) },
	"findings":   func() Doc { return new(Document) },
	"warm":       func() Doc { return new(Warm) },
	"warm-all":   func() Doc { return new(WarmAll) },
	"warm-check": func() Doc { return new(WarmCheck) },
	"ref":        func() Doc { return new(Ref) },
	"key":        func() Doc { return new(Key) },
	"key-diff":   func() Doc { return new(KeyDiff) },
	"bench":      func() Doc { return new(BenchRun) },
}

// Kinds returns the kinds of document Read knows, sorted.
func Kinds() []string {
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Write renders d in the format f. JSON is one indented document with
// its Header filled in; markdown and SARIF are refused for a kind that has
// none.
func Write(w io.Writer, f Format, d Doc) error {
	switch f {
	case Text, "":
		return d.WriteText(w)
	case Markdown:
		md, ok := d.(MarkdownDoc)
		if !ok {
			return fmt.Errorf("a %s document has no markdown form; use text or json", d.Kind())
		}
		return md.WriteMarkdown(w)
	case SARIF:
		sd, ok := d.(SARIFDoc)
		if !ok {
			return fmt.Errorf("a %s document has no SARIF form; use text or json", d.Kind())
		}
		return sd.WriteSARIF(w)
	case JSON:
		return writeJSON(w, d)
	}
	return fmt.Errorf("unknown format %q: want text, markdown, json or sarif", f)
}

func writeJSON(w io.Writer, d Doc) error {
	h := d.header()
	h.ProtocolVersion, h.DocKind = ProtocolVersion, d.Kind()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// Read reads one JSON document written by Write (or by a cachecheck
// command's --format json) and returns it as its kind's type.
func Read(r io.Reader) (Doc, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading document: %w", err)
	}
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("reading document: %w", err)
	}
	if h.ProtocolVersion != ProtocolVersion {
		return nil, fmt.Errorf("reading document: protocol_version %d, want %d", h.ProtocolVersion, ProtocolVersion)
	}
	newDoc, ok := kinds[h.DocKind]
	if !ok {
		if h.DocKind == "" {
			return nil, fmt.Errorf("reading document: it has no \"kind\"; it was written by a cachecheck older than this one, run the command again")
		}
		return nil, fmt.Errorf("reading document: unknown kind %q (want one of %v)", h.DocKind, Kinds())
	}
	d := newDoc()
	if err := json.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("reading %s document: %w", h.DocKind, err)
	}
	return d, nil
}
