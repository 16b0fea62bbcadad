package reports

import (
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// WriteMarkdown renders the report as a pull-request comment: the verdict
// first, then each section in a collapsible block.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	mark := "✅"
	if !r.ok() {
		mark = "⚠️"
	}
	fmt.Fprintf(&b, "**cachecheck** %s %s\n\n", mark, r.Verdict())

	summary := "unchanged"
	if !r.Keys.Same {
		summary = fmt.Sprintf("%d %s", len(r.Keys.Changes), plural(len(r.Keys.Changes), "change", "changes"))
	}
	fmt.Fprintf(&b, "<details><summary>Dependency key: %s</summary>\n\n", summary)
	fmt.Fprintf(&b, "| | revision | key |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| base | `%s` | `%s` |\n| head | `%s` | `%s` |\n", mdCode(r.Base), r.Keys.Base, mdCode(r.Head), r.Keys.Head)
	if len(r.Keys.Changes) > 0 {
		b.WriteString("\n")
		for _, c := range r.Keys.Changes {
			fmt.Fprintf(&b, "- `%s`\n", mdCode(c))
		}
	}
	b.WriteString("\n</details>\n\n")

	fmt.Fprintf(&b, "<details><summary>Deps image: %s</summary>\n\n", r.depsSummary())
	b.WriteString(r.depsDetail(true))
	b.WriteString("\n</details>\n")

	if r.Dockerfile == nil && r.DockerfileNote != "" {
		fmt.Fprintf(&b, "\n**Dockerfile:** none analysed: %s.\n", mdCell(r.DockerfileNote))
	}
	if d := r.Dockerfile; d != nil {
		fmt.Fprintf(&b, "\n<details><summary>Dockerfile: %s</summary>\n\n", d.summary())
		if len(d.Introduced) > 0 {
			fmt.Fprintf(&b, "New findings:\n\n")
			mdFindings(&b, d.Introduced)
		}
		if len(d.Fixed) > 0 {
			fmt.Fprintf(&b, "Fixed findings:\n\n")
			mdFindings(&b, d.Fixed)
		}
		if p := d.Prediction; p != nil && len(p.Stages) > 0 {
			fmt.Fprintf(&b, "Predicted layer cache of a head build after a base build:\n\n")
			p.writeMarkdownTable(&b)
			b.WriteString("\n")
		}
		if fm := d.firstMiss(); fm != "" {
			fmt.Fprintf(&b, "First miss: %s\n", mdCell(fm))
		}
		b.WriteString("\n</details>\n")
	}

	if len(r.Timings) > 0 || r.Bench != nil {
		fmt.Fprintf(&b, "\n<details><summary>Build timings: %s</summary>\n\n", r.timingSummary())
		if r.Bench != nil {
			fmt.Fprintf(&b, "`cachecheck bench` with %s:\n\n| scenario | runs | median | min | max |\n| --- | ---: | ---: | ---: | ---: |\n", mdCell(r.Bench.Builder))
			for _, s := range r.Bench.Scenarios {
				fmt.Fprintf(&b, "| %s | %d | %.1fs | %.1fs | %.1fs |\n", mdCell(s.label()), s.Runs, s.Median, s.Min, s.Max)
			}
			for _, s := range r.Bench.Scenarios {
				if s.Invalid != "" {
					fmt.Fprintf(&b, "\n**Invalid** *%s*: %s\n", mdCell(s.Name), mdCell(s.Invalid))
				}
			}
			b.WriteString("\n```\n" + r.Bench.bars() + "```\n\n")
		}
		for _, t := range r.Timings {
			fmt.Fprintf(&b, "%s (%s), %s, %d of %d steps cached:\n\n", mdCell(t.Name), mdCell(t.Builder), t.total(), t.cached(), len(t.Steps))
			fmt.Fprintf(&b, "| step | stage | cached | seconds |\n| --- | --- | --- | ---: |\n")
			for _, s := range t.Steps {
				cached := "no"
				if s.Cached {
					cached = "yes"
				}
				if s.Error != "" {
					cached = "error: " + mdCell(s.Error)
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", mdCode(s.Name), mdCell(s.Stage), cached, t.seconds(s))
			}
			b.WriteString("\n")
		}
		if bars := timingBars(r.Timings); strings.Count(bars, "\n") > 1 {
			b.WriteString("```\n" + bars + "```\n")
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText renders the report for a terminal, with tables.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cachecheck: %s\n\n", r.Verdict())
	fmt.Fprintf(&b, "Dependency key\n")
	t := NewTable(&b)
	t.Header("", "REVISION", "KEY")
	t.Append("base", r.Base, r.Keys.Base)
	t.Append("head", r.Head, r.Keys.Head)
	if err := t.Render(); err != nil {
		return err
	}
	for _, c := range r.Keys.Changes {
		fmt.Fprintf(&b, "  %s\n", c)
	}
	fmt.Fprintf(&b, "\nDeps image: %s\n%s", r.depsSummary(), r.depsDetail(false))
	if r.Dockerfile == nil && r.DockerfileNote != "" {
		fmt.Fprintf(&b, "\nDockerfile: none analysed: %s.\n", r.DockerfileNote)
	}
	if d := r.Dockerfile; d != nil {
		fmt.Fprintf(&b, "\nDockerfile: %s\n", d.summary())
		for _, sec := range []struct {
			title string
			fs    []*Finding
		}{{"New findings", d.Introduced}, {"Fixed findings", d.Fixed}} {
			if len(sec.fs) == 0 {
				continue
			}
			fmt.Fprintf(&b, "%s:\n", sec.title)
			t := NewTable(&b)
			t.Header("LOCATION", "RULE", "SEVERITY", "FINDING")
			for _, f := range sec.fs {
				t.Append(f.Position(), f.Rule, f.Severity.String(), f.Message)
			}
			if err := t.Render(); err != nil {
				return err
			}
		}
		if p := d.Prediction; p != nil && len(p.Stages) > 0 {
			if err := p.writeTable(&b); err != nil {
				return err
			}
		}
		if fm := d.firstMiss(); fm != "" {
			fmt.Fprintf(&b, "First miss: %s\n", fm)
		}
	}
	if r.Bench != nil {
		fmt.Fprintf(&b, "\nBench (%s):\n", r.Bench.Builder)
		t := NewTable(&b)
		t.Header("SCENARIO", "RUNS", "MEDIAN", "MIN", "MAX")
		for _, s := range r.Bench.Scenarios {
			t.Append(s.label(), fmt.Sprint(s.Runs), fmt.Sprintf("%.1fs", s.Median), fmt.Sprintf("%.1fs", s.Min), fmt.Sprintf("%.1fs", s.Max))
		}
		if err := t.Render(); err != nil {
			return err
		}
		for _, s := range r.Bench.Scenarios {
			if s.Invalid != "" {
				fmt.Fprintf(&b, "invalid %s: %s\n", s.Name, s.Invalid)
			}
		}
		b.WriteString(r.Bench.bars())
	}
	for _, tm := range r.Timings {
		fmt.Fprintf(&b, "\nBuild %s (%s): %s, %d of %d steps cached\n", tm.Name, tm.Builder, tm.total(), tm.cached(), len(tm.Steps))
		t := NewTable(&b)
		t.Header("STEP", "STAGE", "CACHED", "SECONDS")
		for _, s := range tm.Steps {
			cached := "no"
			if s.Cached {
				cached = "yes"
			}
			if s.Error != "" {
				cached = "error"
			}
			t.Append(s.Name, s.Stage, cached, tm.seconds(s))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if bars := timingBars(r.Timings); strings.Count(bars, "\n") > 1 {
		b.WriteString("\n" + bars)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// NewTable returns the table every text renderer of cachecheck uses: left
// aligned, headers as written, cells wrapped at the widths given (60
// characters for a column not named).
func NewTable(w io.Writer, widths ...ColumnWidth) *tablewriter.Table {
	per := tw.NewMapper[int, int]()
	for _, cw := range widths {
		per.Set(cw.Column, cw.Width)
	}
	return tablewriter.NewTable(w, tablewriter.WithConfig(tablewriter.Config{
		Header: tw.CellConfig{
			Formatting: tw.CellFormatting{AutoFormat: tw.Off},
			Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
		},
		Row: tw.CellConfig{
			Formatting:   tw.CellFormatting{AutoWrap: tw.WrapNormal},
			Alignment:    tw.CellAlignment{Global: tw.AlignLeft},
			ColMaxWidths: tw.CellWidth{Global: 60, PerColumn: per},
			Filter:       tw.CellFilter{Global: shortDigestCells},
		},
		Behavior: tw.Behavior{TrimSpace: tw.On},
	}))
}

// ColumnWidth is the width at which NewTable wraps one column's cells.
type ColumnWidth struct{ Column, Width int }

func (r *Report) depsSummary() string {
	switch {
	case !r.Deps.Checked:
		return "not checked"
	case r.Deps.Hit && len(r.Deps.Hidden) > 0:
		return "published, but a cache mount hides its modules"
	case r.Deps.Hit && r.Deps.BuildCache != nil && r.Deps.BuildCache.Mismatch:
		return "ready, its build cache does not match the go build"
	case r.Deps.Hit && r.Deps.BuildCache != nil:
		return "ready, with a build cache"
	case r.Deps.Hit:
		return "ready"
	default:
		return "missing"
	}
}

func (r *Report) depsDetail(md bool) string {
	code := func(s string) string {
		if md {
			return "`" + mdCode(s) + "`"
		}
		return s
	}
	var b strings.Builder
	switch {
	case !r.Deps.Checked:
		note := r.Deps.Note
		if note == "" {
			note = "no --to target was given"
		}
		fmt.Fprintf(&b, "Not checked: %s.\n", note)
	case r.Deps.Hit:
		fmt.Fprintf(&b, "Published for key %s: %s\n", code(r.Keys.Head), code(r.Deps.Ref))
		if r.Deps.Base != "" {
			if md {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "Found on the base image %s, as no --deps-base was given", code(r.Deps.Base))
			if n := r.Deps.OtherBases; n > 0 {
				fmt.Fprintf(&b, "; %d other %s hold the key's image too", n, plural(n, "base", "bases"))
			}
			b.WriteString(": give --deps-base to look up the base your builds start from.\n")
		}
	default:
		fmt.Fprintf(&b, "No deps image for key %s in %s: run `cachecheck warm` for it.\n", code(r.Keys.Head), code(r.Deps.Target))
		if n := r.Deps.Nearest; n != nil {
			fmt.Fprintf(&b, "Nearest published image: %s, holding %d of the %d modules; the build downloads the other %d.\n", code(n.Ref), n.Shared, n.Total, n.Total-n.Shared)
		}
	}
	if len(r.Deps.Hidden) > 0 {
		if md {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "The cache mount at %s is on the module cache of a stage that starts from the deps image: it hides the image's modules, so the build downloads them all again or fails offline. Drop that mount, or mount only GOCACHE there (rule CC011).\n", andList(r.Deps.Hidden))
	}
	if bc := r.Deps.BuildCache; bc != nil {
		sep := "" // markdown: a blank line between paragraphs
		if md {
			sep = "\n"
		}
		if len(bc.Platforms) == 0 {
			fmt.Fprintf(&b, "%sIts build cache holds %d compiled %s, for %s.\n", sep, bc.Packages, plural(bc.Packages, "package", "packages"), code(bc.Settings))
		} else {
			var each []string
			for _, p := range bc.Platforms {
				each = append(each, fmt.Sprintf("%s: %d compiled %s, for %s", p.Platform, p.Packages, plural(p.Packages, "package", "packages"), code(p.Settings)))
			}
			fmt.Fprintf(&b, "%sIts images hold a build cache for %d %s: %s.\n", sep, len(bc.Platforms), plural(len(bc.Platforms), "platform", "platforms"), strings.Join(each, "; "))
		}
		if m := bc.MainModule; m != nil {
			fmt.Fprintf(&b, "%sIt also holds %d %s of the module compiled at commit %s (%s), the newest the target holds.\n", sep, m.Packages, plural(m.Packages, "package", "packages"), code(shortRevision(m.Revision)), m.RevisionTime.UTC().Format("2006-01-02 15:04 UTC"))
		}
		for _, gb := range bc.Builds {
			if s := gb.Sentence(); s != "" {
				if gb.Platform != "" {
					s += fmt.Sprintf(" (compared with the %s image's)", gb.Platform)
				}
				fmt.Fprintf(&b, "%s%s.\n", sep, upperFirst(s))
				continue
			}
			it := "it"
			if gb.Platform != "" {
				it = "the " + gb.Platform + " image's"
			}
			fmt.Fprintf(&b, "%sThe Dockerfile's go %s (%s) matches %s: %s.", sep, gb.Command, gb.Position, it, code(gb.Settings))
			if gb.Compiles != nil {
				fmt.Fprintf(&b, " %s.", upperFirst(gb.Compiles.Sentence()))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// upperFirst capitalizes a sentence that starts with a lower-case ASCII
// letter.
func upperFirst(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

func (d *Dockerfile) summary() string {
	var parts []string
	if n := len(d.Introduced); n > 0 {
		parts = append(parts, fmt.Sprintf("%d new %s", n, plural(n, "finding", "findings")))
	}
	if n := len(d.Fixed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d fixed", n))
	}
	if len(parts) == 0 {
		parts = append(parts, "no new findings")
	}
	if fm := d.firstMiss(); fm != "" {
		at, _, _ := strings.Cut(fm, " ")
		parts = append(parts, "first miss at "+at)
	} else if d.Prediction != nil && len(d.Prediction.Stages) > 0 {
		parts = append(parts, "every layer reused")
	}
	return strings.Join(parts, ", ")
}

func (r *Report) timingSummary() string {
	if base, head, ok := r.baseHeadSeconds(); ok {
		return fmt.Sprintf("base %.1fs, head %.1fs (%+.0f%%)", base, head, 100*(head-base)/base)
	}
	if r.Bench != nil {
		switch inv := r.Bench.invalid(); {
		case r.Bench.Speedup > 1:
			return fmt.Sprintf("%.1f× faster with the deps image", r.Bench.Speedup)
		case r.Bench.Speedup > 0:
			return fmt.Sprintf("%.1f×: no faster with the deps image", r.Bench.Speedup)
		case inv != nil:
			return fmt.Sprintf("no speedup: the bench scenario %q is invalid", inv.Name)
		}
	}
	var parts []string
	for _, t := range r.Timings {
		parts = append(parts, t.Name+" "+t.total())
	}
	return strings.Join(parts, ", ")
}

// total says how long the build took, or that its log has no times.
func (t *Timing) total() string {
	if !t.Timed {
		return "no times in the log"
	}
	return fmt.Sprintf("%.1fs", t.Seconds)
}

// seconds is a step's duration in a table cell: "-" when the log has none.
func (t *Timing) seconds(s Step) string {
	if !t.Timed {
		return "-"
	}
	return fmt.Sprintf("%.1f", s.Seconds)
}

func (t *Timing) cached() int {
	n := 0
	for _, s := range t.Steps {
		if s.Cached {
			n++
		}
	}
	return n
}

func (b *Bench) bars() string {
	var items []bar
	for _, s := range b.Scenarios {
		it := bar{label: s.Name, seconds: s.Median}
		if s.Invalid != "" {
			it.note = "(invalid)"
		}
		items = append(items, it)
	}
	return renderBars(items)
}

// invalid returns the first invalid scenario, or nil.
func (b *Bench) invalid() *Scenario {
	for i := range b.Scenarios {
		if b.Scenarios[i].Invalid != "" {
			return &b.Scenarios[i]
		}
	}
	return nil
}

// label is the scenario's name in a table: " (invalid)" added when it is.
func (s Scenario) label() string {
	if s.Invalid != "" {
		return s.Name + " (invalid)"
	}
	return s.Name
}

func timingBars(ts []Timing) string {
	var items []bar
	for _, t := range ts {
		if t.Timed {
			items = append(items, bar{label: t.Name, seconds: t.Seconds})
		}
	}
	return renderBars(items)
}

// A bar is one line of a bar chart: a label and its seconds, or a note
// in place of the bar ("(skipped)").
type bar struct {
	label   string
	seconds float64
	note    string
}

// barWidth is the length of the longest bar, in characters, in every
// chart of this package: a bench scenario's title (up to 40 characters),
// the bar and the seconds fit in 80 columns.
const barWidth = 30

// renderBars draws one line per item: the label, a bar of block characters
// proportional to the seconds, and the seconds; or the label and the
// item's note.
func renderBars(items []bar) string {
	maxSec, maxLabel := 0.0, 0
	for _, it := range items {
		maxSec = math.Max(maxSec, it.seconds)
		maxLabel = max(maxLabel, utf8.RuneCountInString(it.label))
	}
	var b strings.Builder
	for _, it := range items {
		if it.note != "" {
			fmt.Fprintf(&b, "%-*s %s\n", maxLabel, it.label, it.note)
			continue
		}
		n := 0
		if maxSec > 0 {
			n = int(math.Round(it.seconds / maxSec * barWidth))
		}
		if n == 0 && it.seconds > 0 {
			n = 1
		}
		fmt.Fprintf(&b, "%-*s %s%s %.1fs\n", maxLabel, it.label, strings.Repeat("█", n), strings.Repeat(" ", barWidth-n), it.seconds)
	}
	return b.String()
}

func mdFindings(b *strings.Builder, fs []*Finding) {
	fmt.Fprintf(b, "| location | rule | severity | finding | fix |\n| --- | --- | --- | --- | --- |\n")
	for _, f := range fs {
		fmt.Fprintf(b, "| %s | %s %s | %s | %s | %s |\n", mdCell(f.Position()), f.Rule, mdCell(f.Slug), f.Severity, mdCell(f.Message), mdCell(f.Fix))
	}
	b.WriteString("\n")
}

// mdCell escapes text for a markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "<", "&lt;")
	return strings.ReplaceAll(s, "\n", "<br>")
}

// mdCode escapes text for an inline code span in a table cell.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "`", "'")
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
