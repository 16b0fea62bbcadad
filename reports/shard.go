package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// WarmPlan is what `cachecheck warm --all --plan` decided: how many shards
// the nightly matrix runs, and which shard warms each module.
type WarmPlan struct {
	Root   string `json:"root"`
	Target string `json:"target"`
	// Shards is the N of the matrix's shards I/N.
	Shards int `json:"shards"`
	// ToWarm counts the units whose key has no image in the target yet.
	ToWarm int         `json:"to_warm"`
	Units  []*PlanUnit `json:"units"`
}

// PlanUnit is one module or workspace of a WarmPlan.
type PlanUnit struct {
	Dir     string       `json:"dir"`
	Modules []string     `json:"main_modules,omitempty"`
	Key     cachekey.Key `json:"key,omitzero"`
	Tag     string       `json:"tag,omitempty"`
	// Published reports whether the target holds the unit's image.
	Published bool `json:"published"`
	// Shard is the shard that warms it, "I/N"; "" for a unit warmed
	// with another of the same key (SameKeyAs).
	Shard     string `json:"shard,omitempty"`
	SameKeyAs string `json:"same_key_as,omitempty"`
	// Weight is what the split weighs it by, and WeightFrom where it
	// comes from: the tag of its last published image (its bytes),
	// "modules × N B" (its module count times the mean bytes per module
	// of the units with an image) or "modules" (its module count,
	// nothing being published).
	Weight     int64  `json:"weight"`
	WeightFrom string `json:"weight_from"`
	Error      string `json:"error,omitempty"`
}

// WriteMatrix writes the plan as a CI matrix on one line, the form GitHub
// Actions' fromJSON and GitLab's parallel:matrix take:
// {"include":[{"shard":"1/4"},…]}.
func (p *WarmPlan) WriteMatrix(w io.Writer) error {
	type entry struct {
		Shard string `json:"shard"`
	}
	m := struct {
		Include []entry `json:"include"`
	}{Include: []entry{}}
	for i := 1; i <= p.Shards; i++ {
		m.Include = append(m.Include, entry{fmt.Sprintf("%d/%d", i, p.Shards)})
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// WriteText writes a table of the units and their shards, and a line of
// totals.
func (p *WarmPlan) WriteText(w io.Writer) error {
	table := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), withShortDigests())
	table.Header("dir", "key", "published", "shard", "weight")
	for _, u := range p.Units {
		key, pub, shard := "-", "no", u.Shard
		if !u.Key.IsZero() {
			key = u.Key.String()
		}
		if u.Published {
			pub = "yes"
		}
		weight := ByteSize(u.Weight)
		switch {
		case u.SameKeyAs != "":
			shard, weight = "with "+u.SameKeyAs, "-"
		case u.WeightFrom == "modules":
			weight = fmt.Sprintf("%d modules", u.Weight)
		case strings.HasPrefix(u.WeightFrom, "modules"):
			weight += " (" + u.WeightFrom + ")"
		}
		if u.Error != "" {
			pub = "error: " + u.Error
		}
		if err := table.Append([]string{u.Dir, key, pub, shard, weight}); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d shards for %d of %d units to warm into %s\n", p.Shards, p.ToWarm, len(p.Units), p.Target)
	return err
}

// WarmCheck is what `cachecheck warm --all --check` found: for every
// module and workspace, whether the target holds the image of its key.
type WarmCheck struct {
	Header
	Root    string       `json:"root"`
	Target  string       `json:"target"`
	Units   []*CheckUnit `json:"units"`
	Present int          `json:"present"`
	Missing int          `json:"missing"`
}

// CheckUnit is one module or workspace of a WarmCheck.
type CheckUnit struct {
	Dir     string       `json:"dir"`
	Modules []string     `json:"main_modules,omitempty"`
	Key     cachekey.Key `json:"key,omitzero"`
	Tag     string       `json:"tag,omitempty"`
	// Result is "present", "missing" (no image, or an incomplete one:
	// Error says which) or "failed" (no key or no lookup: Error says why).
	Result string `json:"result"`
	Ref    string `json:"ref,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (*WarmCheck) Kind() string { return "warm-check" }

// WriteText writes a table of the units and a line of totals.
func (c *WarmCheck) WriteText(w io.Writer) error {
	table := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), withShortDigests())
	table.Header("dir", "key", "result", "image or error")
	for _, u := range c.Units {
		key := "-"
		if !u.Key.IsZero() {
			key = u.Key.String()
		}
		what := u.Ref
		if u.Error != "" {
			what = u.Error
		}
		if err := table.Append([]string{u.Dir, key, u.Result, what}); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	_, err := io.WriteString(w, c.totals()+"\n")
	return err
}

// WriteMarkdown writes the units as a markdown table and the totals.
func (c *WarmCheck) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| dir | key | result | image or error |\n| --- | --- | --- | --- |\n")
	for _, u := range c.Units {
		key := "-"
		if !u.Key.IsZero() {
			key = "`" + u.Key.String() + "`"
		}
		what := "`" + u.Ref + "`"
		if u.Error != "" {
			what = mdCell(u.Error)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", mdCode(u.Dir), key, u.Result, what)
	}
	fmt.Fprintf(&b, "\n%s\n", c.totals())
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *WarmCheck) totals() string {
	return fmt.Sprintf("%d of %d units have their image in %s; %d missing", c.Present, len(c.Units), c.Target, c.Missing)
}
