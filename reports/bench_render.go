package reports

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"unicode/utf8"
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
	t.Header("SCENARIO", "RUNS", "MEDIAN", "MIN", "MAX", "DOWNLOADED")
	for _, s := range r.Scenarios {
		if s.Skipped != "" || len(s.Runs) == 0 {
			t.Append(s.Title+invalidMark(s), "0", noRunCell(s), "-", "-", "-")
			continue
		}
		t.Append(s.Title+invalidMark(s), fmt.Sprint(len(s.Runs)), benchSecs(s.Median), benchSecs(s.Min), benchSecs(s.Max), downloadsCell(s))
	}
	if err := t.Render(); err != nil {
		return err
	}
	var lines []string
	for _, bc := range []bool{false, true} {
		what := map[bool]string{false: "pre-warming", true: "pre-warming and the build cache"}[bc]
		if x := r.speedup(bc); x > 0 {
			lines = append(lines, fmt.Sprintf("speedup with %s: %.2f×", what, x))
		} else if s := r.invalidPair(bc); s != nil {
			lines = append(lines, fmt.Sprintf("speedup with %s: none: %q is invalid", what, s.Title))
		}
	}
	if len(lines) > 0 {
		b.WriteString("\n" + strings.Join(lines, "\n") + "\n")
	}
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			fmt.Fprintf(&b, "\nskipped %s: %s\n", s.Title, s.Skipped)
		}
		if s.Invalid != "" {
			fmt.Fprintf(&b, "\ninvalid %s: %s\n", s.Title, s.Invalid)
		}
	}
	for _, s := range r.Scenarios {
		if len(s.DroppedMounts) > 0 {
			fmt.Fprintf(&b, "\n%s: cache mounts taken off:\n", s.Title)
			for _, m := range s.DroppedMounts {
				fmt.Fprintf(&b, "  %s\n", m)
			}
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
	fmt.Fprintf(&b, "| scenario | runs | median | min | max | modules downloaded |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range r.Scenarios {
		if s.Skipped != "" || len(s.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | 0 | %s | - | - | - |\n", mdCell(s.Title+invalidMark(s)), noRunCell(s))
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", mdCell(s.Title+invalidMark(s)), len(s.Runs), benchSecs(s.Median), benchSecs(s.Min), benchSecs(s.Max), downloadsCell(s))
	}
	var phrases []string
	if r.Speedup > 0 {
		phrases = append(phrases, r.speedupPhrase("**"))
	} else if s := r.invalidPair(false); s != nil {
		phrases = append(phrases, fmt.Sprintf("no speedup with pre-warming: *%s* is **invalid**", mdCell(s.Title)))
	}
	if r.BuildCacheSpeedup > 0 {
		phrases = append(phrases, r.buildCachePhrase("**"))
	} else if s := r.invalidPair(true); s != nil {
		phrases = append(phrases, fmt.Sprintf("no speedup with pre-warming and the build cache: *%s* is **invalid**", mdCell(s.Title)))
	}
	if len(phrases) > 0 {
		fmt.Fprintf(&b, "\n%s", strings.Join(phrases, "; "))
		if r.DepsImage != "" {
			fmt.Fprintf(&b, " (deps image `%s`)", r.DepsImage)
		}
		b.WriteString(".\n")
	}
	for _, s := range r.Scenarios {
		if s.Skipped != "" {
			fmt.Fprintf(&b, "\nSkipped *%s*: %s\n", mdCell(s.Title), mdCell(s.Skipped))
		}
		if s.Invalid != "" {
			fmt.Fprintf(&b, "\n**Invalid** *%s*: %s\n", mdCell(s.Title), mdCell(s.Invalid))
		}
	}
	for _, s := range r.Scenarios {
		if len(s.DroppedMounts) > 0 {
			fmt.Fprintf(&b, "\n*%s*: cache mounts taken off:\n\n", mdCell(s.Title))
			for _, m := range s.DroppedMounts {
				fmt.Fprintf(&b, "- `%s`\n", mdCode(m))
			}
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
		switch {
		case s.Skipped != "":
			it.note = "(skipped)"
		case s.Invalid != "":
			it.note = "(invalid)"
		}
		items = append(items, it)
	}
	return renderBars(items)
}

// WriteSVG draws the scenario timings as horizontal bars: the median as
// the bar and, for a scenario whose runs differ, the min-max range as a
// whisker (the legend mentions whiskers only when one is drawn). The left
// margin fits the longest label, at labelPx a character. An invalid
// scenario's bar is grey and says "invalid". The SVG is written by hand
// (a few rectangles and labels need no charting library) and is the same
// bytes for the same result.
func (r *BenchRun) WriteSVG(w io.Writer) error {
	const (
		right, top, rowH, barH = 110, 50, 34, 20
		plotW                  = 480
		// labelPx is a generous width of one character of a 13px
		// sans-serif label: an average glyph is near 0.55em (7.2px);
		// wide ones (m, W) and digits run wider.
		labelPx = 7.5
	)
	maxSec, longest, whiskers := 0.0, 0, false
	for _, s := range r.Scenarios {
		maxSec = math.Max(maxSec, math.Max(s.Max, s.Median))
		longest = max(longest, utf8.RuneCountInString(s.Title))
		whiskers = whiskers || hasWhisker(s)
	}
	if maxSec == 0 {
		maxSec = 1
	}
	left := max(120, 12+int(math.Ceil(float64(longest)*labelPx))+8)
	width := left + plotW + right
	height := top + rowH*len(r.Scenarios) + 30
	x := func(sec float64) float64 { return float64(left) + sec/maxSec*plotW }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	title := "cachecheck bench: " + r.Builder
	if r.Speedup > 0 {
		title += " — " + r.speedupPhrase("")
	} else if s := r.invalidPair(false); s != nil {
		title += " — no speedup: " + s.Title + " is invalid"
	}
	if r.BuildCacheSpeedup > 0 {
		// Short: the title must fit the chart's width.
		title += fmt.Sprintf("; %.2f× with the build cache", r.BuildCacheSpeedup)
	}
	fmt.Fprintf(&b, `<text x="12" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	legend := fmt.Sprintf("median of %d run(s)", r.Runs)
	if whiskers {
		legend += "; whiskers: min to max"
	}
	fmt.Fprintf(&b, `<text x="12" y="40" fill="#555555">%s</text>`+"\n", legend)
	colors := map[string]string{ScenarioCold: "#c0392b", ScenarioGoCold: "#c0392b", ScenarioBumpCold: "#c0392b", ScenarioPrewarmed: "#27ae60", ScenarioGoPrewarmed: "#27ae60", ScenarioBumpFresh: "#27ae60", ScenarioBumpNearest: "#8bc34a", ScenarioBuildCache: "#16a085", ScenarioCodeChange: "#2980b9", ScenarioGoBuildCache: "#16a085"}
	for i, s := range r.Scenarios {
		y := top + i*rowH
		color := colors[s.Name]
		if color == "" || s.Invalid != "" {
			color = "#bdc3c7"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+barH-5, html.EscapeString(s.Title))
		if s.Skipped != "" || (s.Invalid != "" && len(s.Runs) == 0) {
			word := "skipped"
			if s.Skipped == "" {
				word = "invalid"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555555">%s</text>`+"\n", left+6, y+barH-5, word)
			continue
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, x(s.Median)-float64(left), barH, color)
		if hasWhisker(s) {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#333333"/>`+"\n", x(s.Min), x(s.Max), y+barH/2, y+barH/2)
		}
		label := benchSecs(s.Median)
		if s.Invalid != "" {
			label += " invalid"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", math.Max(x(s.Median), x(s.Max))+6, y+barH-5, label)
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999999"/>`+"\n", left, left, top-6, top+rowH*len(r.Scenarios))
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// hasWhisker reports whether the chart draws a min-max whisker for s: it
// ran at least twice, and its runs differ.
func hasWhisker(s BenchScenario) bool {
	return s.Skipped == "" && len(s.Runs) > 1 && s.Min != s.Max
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

// speedup returns Speedup, or with buildCache BuildCacheSpeedup.
func (r *BenchRun) speedup(buildCache bool) float64 {
	if buildCache {
		return r.BuildCacheSpeedup
	}
	return r.Speedup
}

// invalidPair returns the invalid scenario of the pair a speedup is
// computed from (cold and prewarmed, or with buildCache cold and
// buildcache; the go builder's for its run), or nil.
func (r *BenchRun) invalidPair(buildCache bool) *BenchScenario {
	cold, warm := ScenarioCold, ScenarioPrewarmed
	if buildCache {
		warm = ScenarioBuildCache
	}
	if r.Scenario(cold) == nil {
		cold, warm = ScenarioGoCold, ScenarioGoPrewarmed
		if buildCache {
			warm = ScenarioGoBuildCache
		}
	}
	for _, name := range []string{warm, cold} {
		if s := r.Scenario(name); s != nil && s.Invalid != "" {
			return s
		}
	}
	return nil
}

// noRunCell is the median cell of a scenario without runs: "skipped",
// or "no run" (its first run failed, and it is invalid).
func noRunCell(s BenchScenario) string {
	if s.Skipped != "" {
		return "skipped"
	}
	return "no run"
}

// invalidMark is " (invalid)" for an invalid scenario's title, "" for a
// valid one.
func invalidMark(s BenchScenario) string {
	if s.Invalid != "" {
		return " (invalid)"
	}
	return ""
}

// downloadsCell is a scenario's modules-downloaded cell: "13", "0-2"
// when its runs differ, "-" when no run's log told.
func downloadsCell(s BenchScenario) string {
	lo, hi, ok := 0, 0, false
	for _, b := range s.Runs {
		if b.ModulesDownloaded == nil {
			continue
		}
		n := *b.ModulesDownloaded
		if !ok {
			lo, hi, ok = n, n, true
		}
		lo, hi = min(lo, n), max(hi, n)
	}
	switch {
	case !ok:
		return "-"
	case lo == hi:
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
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
