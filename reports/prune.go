package reports

import (
	"fmt"
	"io"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// Prune is what `cachecheck prune` did to the deps images of a target.
type Prune struct {
	Header
	Target    string        `json:"target"`
	DryRun    bool          `json:"dry_run"`
	Keep      int           `json:"keep"`
	OlderThan string        `json:"older_than"`
	Now       time.Time     `json:"now"`
	Images    []PrunedImage `json:"images"`
	Removed   int           `json:"removed"`
	Kept      int           `json:"kept"`
	Stamped   int           `json:"stamped"`
}

// PrunedImage is one deps image prune looked at.
type PrunedImage struct {
	Tag       string     `json:"tag"`
	Digest    string     `json:"digest"`
	Module    string     `json:"module"`
	Published *time.Time `json:"published,omitempty"`
	// Action is "removed", "would remove" or "kept".
	Action string `json:"action"`
	Reason string `json:"reason"`
	// Stamped reports whether prune wrote the image's missing stamp.
	Stamped bool `json:"stamped,omitempty"`
}

// Kind is "prune".
func (*Prune) Kind() string { return "prune" }

// WriteText prints the images removed (or that would be) as a table, the
// images kept and why as another, then a one-line summary. Digests are
// shortened (see [ShortDigests]); the JSON form has them whole.
func (p *Prune) WriteText(w io.Writer) error {
	var rows, kept [][]string
	for _, im := range p.Images {
		age := "-"
		if im.Published != nil {
			age = FormatAge(p.Now.Sub(*im.Published))
		}
		if im.Action == "kept" {
			why := im.Reason
			if im.Stamped {
				why += "; stamped now"
			}
			kept = append(kept, []string{im.Tag, im.Module, age, im.Digest, why})
			continue
		}
		rows = append(rows, []string{im.Tag, im.Module, age, im.Digest})
	}
	stamped := ""
	if p.Stamped > 0 {
		stamped = fmt.Sprintf(" (stamped %d that had no publication time)", p.Stamped)
	}
	if err := writeTable(w, []string{removalVerb(p.DryRun), "module", "age", "digest"}, rows); err != nil {
		return err
	}
	return writeRemoval(w, []string{"kept", "module", "age", "digest", "why"}, kept,
		fmt.Sprintf("%s %d of %d deps images in %s; kept %d%s", removalVerb(p.DryRun), p.Removed, p.Removed+p.Kept, p.Target, p.Kept, stamped))
}

// PruneGC is what `cachecheck prune --gc` collected from an OCI layout.
type PruneGC struct {
	Header
	Target    string    `json:"target"`
	DryRun    bool      `json:"dry_run"`
	OlderThan string    `json:"older_than"`
	Now       time.Time `json:"now"`
	Files     []GCFile  `json:"files"`
	Blobs     int       `json:"blobs"`
	Temporary int       `json:"temporary"`
	Bytes     int64     `json:"bytes"`
	// Broken lists the tags that name missing or damaged blobs.
	Broken []string `json:"broken,omitempty"`
}

// GCFile is one file prune --gc removed, or would.
type GCFile struct {
	// Path is the file's name in the layout, slash-separated
	// ("blobs/sha256/…", ".tmp-index.json-…").
	Path string `json:"path"`
	// Digest is the blob's digest ("sha256:…"); "" for a temporary file.
	Digest string `json:"digest,omitempty"`
	// Temp reports a temporary file, left by a write that did not finish.
	Temp    bool      `json:"temporary,omitempty"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modified"`
}

// Kind is "prune-gc".
func (*PruneGC) Kind() string { return "prune-gc" }

// WriteText prints the files removed (or that would be) as a table, then
// a one-line summary. The broken tags are not in it: the command warns
// about them on stderr (BrokenWarnings).
func (g *PruneGC) WriteText(w io.Writer) error {
	var rows [][]string
	for _, f := range g.Files {
		kind := "unused blob"
		if f.Temp {
			kind = "temporary file"
		}
		rows = append(rows, []string{f.Path, kind, ByteSize(f.Size), FormatAge(g.Now.Sub(f.ModTime))})
	}
	return writeRemoval(w, []string{removalVerb(g.DryRun), "kind", "size", "age"}, rows,
		fmt.Sprintf("%s %d unused blobs and %d temporary files (%s) from %s", removalVerb(g.DryRun), g.Blobs, g.Temporary, ByteSize(g.Bytes), g.Target))
}

// BrokenWarnings returns one warning line per broken tag, as the command
// prints them on stderr.
func (g *PruneGC) BrokenWarnings() []string {
	var out []string
	for _, tag := range g.Broken {
		out = append(out, fmt.Sprintf("cachecheck: %s: tag %s names missing blobs; the next warm of its key rebuilds it", g.Target, tag))
	}
	return out
}

func removalVerb(dryRun bool) string {
	if dryRun {
		return "would remove"
	}
	return "removed"
}

// writeRemoval is the text form of both prunes: a table of what goes,
// when anything does, then the summary line.
func writeRemoval(w io.Writer, header []string, rows [][]string, summary string) error {
	if err := writeTable(w, header, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, summary)
	return err
}

// writeTable writes the rows under header as a table, when there are any.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	if len(rows) == 0 {
		return nil
	}
	table := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), withShortDigests())
	table.Header(header)
	if err := table.Bulk(rows); err != nil {
		return err
	}
	return table.Render()
}

// FormatAge formats d in days and hours, or smaller units under a day:
// "3d", "3d4h", "5h0m0s".
func FormatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	day := 24 * time.Hour
	if d < day {
		return d.Round(time.Second).String()
	}
	days, hours := d/day, (d%day)/time.Hour
	if hours == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, hours)
}
