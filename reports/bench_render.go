package reports

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// benchSecs is a duration in a bench table or sentence: "40.0s".
func benchSecs(f float64) string { return fmt.Sprintf("%.1fs", f) }

// benchCache is a step's cache column: "hit" or "miss".
func benchCache(c bool) string {
	if c {
		return "hit"
	}
	return "miss"
}

// WriteText writes the summary table, the speedup, and a step table per
// scenario (from its last run).
func (r *BenchRun) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cachecheck bench: %s, %s, %d run(s) per scenario\n", r.Builder, r.Context, r.Runs)
	if r.DepsImage != "" {
		fmt.Fprintf(&b, "deps image: %s\n", r.DepsImage)
	}
	b.WriteString("\n")
	t := NewTable(&b)
	t.Header("SCENARIO", "RUNS", "MEDIAN", "MIN", "MAX")
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			t.Append(s.Title, "0", "skipped", "-", "-")
			continue
		}
		t.Append(s.Title, fmt.Sprint(len(s.Runs)), benchSecs(s.Median), benchSecs(s.Min), benchSecs(s.Max))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if r.Speedup > 0 || r.BuildCacheSpeedup > 0 {
		b.WriteString("\n")
	}
	if r.Speedup > 0 {
		fmt.Fprintf(&b, "speedup with pre-warming: %.2f×\n", r.Speedup)
	}
	if r.BuildCacheSpeedup > 0 {
		fmt.Fprintf(&b, "speedup with pre-warming and the build cache: %.2f×\n", r.BuildCacheSpeedup)
	}
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			fmt.Fprintf(&b, "\nskipped %s: %s\n", s.Title, s.Skipped)
		}
	}
	b.WriteString("\n" + r.bars())
	for _, s := range r.Scenarios {
		if len(s.Runs) == 0 {
			continue
		}
		last := s.Runs[len(s.Runs)-1]
		fmt.Fprintf(&b, "\n%s (last run, %s%s):\n", s.Title, benchSecs(last.Seconds), compiledPhrase(last))
		if s.Note != "" {
			fmt.Fprintf(&b, "note: %s\n", s.Note)
		}
		t := NewTable(&b)
		t.Header("STAGE", "STEP", "CACHE", "SECONDS")
		for _, st := range last.Steps {
			t.Append(st.Stage, st.Instruction, benchCache(st.Cached), fmt.Sprintf("%.1f", st.Seconds))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the same as WriteText as markdown, for a pull
// request comment or a wiki.
func (r *BenchRun) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### cachecheck bench: %s\n\n", mdCell(r.Builder))
	fmt.Fprintf(&b, "| scenario | runs | median | min | max |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			fmt.Fprintf(&b, "| %s | 0 | skipped | - | - |\n", mdCell(s.Title))
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", mdCell(s.Title), len(s.Runs), benchSecs(s.Median), benchSecs(s.Min), benchSecs(s.Max))
	}
	if r.Speedup > 0 {
		fmt.Fprintf(&b, "\n%s", r.speedupPhrase("**"))
		if r.BuildCacheSpeedup > 0 {
			fmt.Fprintf(&b, "; %s", r.buildCachePhrase("**"))
		}
		if r.DepsImage != "" {
			fmt.Fprintf(&b, " (deps image `%s`)", r.DepsImage)
		}
		b.WriteString(".\n")
	}
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			fmt.Fprintf(&b, "\nSkipped *%s*: %s\n", mdCell(s.Title), mdCell(s.Skipped))
		}
	}
	b.WriteString("\n```\n" + r.bars() + "```\n")
	for _, s := range r.Scenarios {
		if len(s.Runs) == 0 {
			continue
		}
		last := s.Runs[len(s.Runs)-1]
		fmt.Fprintf(&b, "\n<details><summary>%s: steps of the last run (%s%s)</summary>\n\n", html.EscapeString(s.Title), benchSecs(last.Seconds), html.EscapeString(compiledPhrase(last)))
		if s.Note != "" {
			fmt.Fprintf(&b, "Note: %s\n\n", mdCell(s.Note))
		}
		b.WriteString("| stage | step | cache | seconds |\n| --- | --- | --- | ---: |\n")
		for _, st := range last.Steps {
			fmt.Fprintf(&b, "| %s | `%s` | %s | %.1f |\n", mdCell(st.Stage), mdCode(st.Instruction), benchCache(st.Cached), st.Seconds)
		}
		b.WriteString("\n</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// bars draws the scenario medians as text bars; a skipped scenario is a
// "(skipped)" line.
func (r *BenchRun) bars() string {
	var items []bar
	for _, s := range r.Scenarios {
		it := bar{label: s.Title, seconds: s.Median}
		if s.Skipped != "" {
			it.note = "(skipped)"
		}
		items = append(items, it)
	}
	return renderBars(items)
}

// WriteSVG draws the scenario timings as horizontal bars: the median as
// the bar, the min-max range as a whisker. The SVG is written by hand
// (a few rectangles and labels need no charting library) and is the same
// bytes for the same result.
func (r *BenchRun) WriteSVG(w io.Writer) error {
	const (
		left, right, top, rowH, barH = 260, 90, 50, 34, 20
		plotW                        = 480
	)
	maxSec := 0.0
	for _, s := range r.Scenarios {
		maxSec = math.Max(maxSec, math.Max(s.Max, s.Median))
	}
	if maxSec == 0 {
		maxSec = 1
	}
	width := left + plotW + right
	height := top + rowH*len(r.Scenarios) + 30
	x := func(sec float64) float64 { return left + sec/maxSec*plotW }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	title := "cachecheck bench: " + r.Builder
	if r.Speedup > 0 {
		title += " — " + r.speedupPhrase("")
	}
	if r.BuildCacheSpeedup > 0 {
		// Short: the title must fit the chart's width.
		title += fmt.Sprintf("; %.2f× with the build cache", r.BuildCacheSpeedup)
	}
	fmt.Fprintf(&b, `<text x="12" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="12" y="40" fill="#555555">median of %d run(s); whiskers: min to max</text>`+"\n", r.Runs)
	colors := map[string]string{ScenarioCold: "#c0392b", ScenarioGoCold: "#c0392b", ScenarioBumpCold: "#c0392b", ScenarioPrewarmed: "#27ae60", ScenarioGoPrewarmed: "#27ae60", ScenarioBumpFresh: "#27ae60", ScenarioBumpNearest: "#8bc34a", ScenarioBuildCache: "#16a085", ScenarioCodeChange: "#2980b9", ScenarioGoBuildCache: "#16a085"}
	for i, s := range r.Scenarios {
		y := top + i*rowH
		color := colors[s.Name]
		if color == "" {
			color = "#7f8c8d"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH-5, html.EscapeString(s.Title))
		if s.Skipped != "" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555">skipped</text>`+"\n", left+6, y+barH-5)
			continue
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, x(s.Median)-left, barH, color)
		if len(s.Runs) > 1 {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#333333"/>`+"\n", x(s.Min), x(s.Max), y+barH/2, y+barH/2)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", math.Max(x(s.Median), x(s.Max))+6, y+barH-5, benchSecs(s.Median))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999999"/>`+"\n", left, left, top-6, top+rowH*len(r.Scenarios))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// speedupPhrase says what pre-warming bought, the ratio between em marks:
// "1.27× faster with pre-warming", or, when the pre-warmed median was not
// shorter, "0.94×: no faster with pre-warming".
func (r *BenchRun) speedupPhrase(em string) string {
	if r.Speedup > 1 {
		return fmt.Sprintf("%s%.2f×%s faster with pre-warming", em, r.Speedup, em)
	}
	return fmt.Sprintf("%s%.2f×%s: no faster with pre-warming", em, r.Speedup, em)
}

// buildCachePhrase says what pre-warming with the build cache bought:
// "2.10× faster with pre-warming and the build cache", or "0.94×: no
// faster with ...".
func (r *BenchRun) buildCachePhrase(em string) string {
	if r.BuildCacheSpeedup > 1 {
		return fmt.Sprintf("%s%.2f×%s faster with pre-warming and the build cache", em, r.BuildCacheSpeedup, em)
	}
	return fmt.Sprintf("%s%.2f×%s: no faster with pre-warming and the build cache", em, r.BuildCacheSpeedup, em)
}

// compiledPhrase says how many packages the run's go build compiled,
// "; go build compiled 2 packages", or "" when the log does not tell.
func compiledPhrase(b BenchBuild) string {
	if b.CompiledPackages == nil {
		return ""
	}
	if *b.CompiledPackages == 1 {
		return "; go build compiled 1 package"
	}
	return fmt.Sprintf("; go build compiled %d packages", *b.CompiledPackages)
}
