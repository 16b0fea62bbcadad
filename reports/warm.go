package reports

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// Warm is what `cachecheck warm` did: the deps image it published, or
// found already published (a hit).
type Warm struct {
	Header
	Key     cachekey.Key `json:"key"`
	Tag     string       `json:"tag"`
	Target  string       `json:"target"`
	Ref     string       `json:"ref"`
	Digest  string       `json:"digest"`
	Hit     bool         `json:"hit"`
	Modules int          `json:"modules"`
	Layers  WarmLayers   `json:"layers"`
	Bytes   WarmBytes    `json:"bytes"`
	// Seconds is how long each phase took: base, lookup, download,
	// verify, pack or pack+upload, build-cache, publish and total.
	Seconds map[string]float64 `json:"seconds"`
	// BuildCache is the build cache layer; nil for none.
	BuildCache *WarmBuildCache `json:"build_cache,omitempty"`
	// BuildCaches are the build cache layers of a multi-platform deps
	// image, one per platform compiled for (Platform set); BuildCache is
	// nil then.
	BuildCaches []*WarmBuildCache `json:"build_caches,omitempty"`
	// MainModule are the main module's layers of warm --build-cache=all,
	// one a platform with a build cache. Tag is then the revision's, and
	// DepsTag the deps image's it adds to, which DepsHit says the target
	// held already (only the main module's layer was built).
	MainModule []*WarmMainModule `json:"main_module,omitempty"`
	DepsTag    string            `json:"deps_tag,omitempty"`
	DepsHit    bool              `json:"deps_hit,omitempty"`

	// Quiet makes the text form the reference alone, as warm -q prints
	// it. It is not part of the JSON form.
	Quiet bool `json:"-"`
}

// WarmLayers counts the layers of a warm: written, or already in the
// target.
type WarmLayers struct {
	New    int `json:"new"`
	Reused int `json:"reused"`
}

// WarmBytes are the sizes of a warm's layers, and what it sent.
type WarmBytes struct {
	Raw        int64 `json:"raw"`
	Compressed int64 `json:"compressed"`
	Written    int64 `json:"written"`
}

// WarmBuildCache is what the build cache layer of a warm holds.
type WarmBuildCache struct {
	// Platform is "linux/arm64" in a multi-platform deps image, else "".
	Platform string `json:"platform,omitempty"`
	Settings string `json:"settings"`
	Digest   string `json:"settings_digest"`
	Packages int    `json:"packages"`
	// SettingsFrom says where the settings came from: the go build's
	// "FILE:LINE", "--build-flags", or "guessed: " and why no Dockerfile
	// gave them (the go command's defaults were used).
	SettingsFrom string `json:"settings_from,omitempty"`
	Bytes        struct {
		Raw        int64 `json:"raw"`
		Compressed int64 `json:"compressed"`
	} `json:"bytes"`
	// ReusedFrom is the reference to the image of the target whose build
	// cache layer warm reused (same key and settings, other contents or
	// base) instead of compiling; "" when it compiled.
	ReusedFrom string `json:"reused_from,omitempty"`
	// Toolchain is the go command that compiled it: the base image's Go
	// installation ("the base image's /usr/local/go (go1.26.8)") or "the
	// go command here (…)" for a base with none this machine can run.
	// Empty when reused.
	Toolchain string `json:"toolchain,omitempty"`
}

// WarmMainModule is what the main module's layer of a warm holds: its
// packages compiled at a commit.
type WarmMainModule struct {
	Platform     string    `json:"platform,omitempty"`
	Revision     string    `json:"revision"`
	RevisionTime time.Time `json:"revision_time"`
	Packages     int       `json:"packages"`
	Bytes        struct {
		Raw        int64 `json:"raw"`
		Compressed int64 `json:"compressed"`
	} `json:"bytes"`
	Toolchain string `json:"toolchain,omitempty"`
}

func (*Warm) Kind() string { return "warm" }

// warmPhases are the phases of Warm.Seconds, in the order they are shown.
var warmPhases = []string{"base", "lookup", "download", "verify", "pack", "pack+upload", "build-cache", "publish", "main-module", "publish-main", "total"}

// WriteText writes what the warm did: a hit in two lines, else the image
// and a table of its figures.
func (d *Warm) WriteText(w io.Writer) error {
	if d.Quiet {
		_, err := fmt.Fprintln(w, d.Ref)
		return err
	}
	if d.Hit {
		_, err := fmt.Fprintf(w, "hit: %s already holds %s\n%s\n", d.Target, d.Tag, d.Ref)
		return err
	}
	if _, err := fmt.Fprintf(w, "published %s to %s\n%s\n", d.Tag, d.Target, d.Ref); err != nil {
		return err
	}
	table := tablewriter.NewTable(w, withShortDigests())
	for _, r := range d.rows() {
		if err := table.Append(r[0], r[1]); err != nil {
			return err
		}
	}
	return table.Render()
}

// WriteMarkdown writes the warm for a pull request comment: what was
// published (or found) and, for a build, its figures as a table.
func (d *Warm) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	if d.Hit {
		fmt.Fprintf(&b, "**Deps image:** hit, `%s` already holds `%s`\n\n`%s`\n", mdCode(d.Target), mdCode(d.Tag), mdCode(d.Ref))
	} else {
		fmt.Fprintf(&b, "**Deps image:** published `%s` to `%s`\n\n`%s`\n\n| | |\n| --- | --- |\n", mdCode(d.Tag), mdCode(d.Target), mdCode(d.Ref))
		for _, r := range d.rows() {
			fmt.Fprintf(&b, "| %s | %s |\n", r[0], mdCell(r[1]))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rows are the figures of a warm that built, as name and value.
func (d *Warm) rows() [][2]string {
	rows := [][2]string{
		{"modules", fmt.Sprint(d.Modules)},
		{"layers", fmt.Sprintf("%d new, %d reused", d.Layers.New, d.Layers.Reused)},
		{"bytes raw", ByteSize(d.Bytes.Raw)},
		{"bytes compressed", ByteSize(d.Bytes.Compressed)},
		{"bytes written", ByteSize(d.Bytes.Written)},
	}
	caches := d.BuildCaches
	if d.BuildCache != nil {
		caches = []*WarmBuildCache{d.BuildCache}
	}
	for _, bc := range caches {
		at := ""
		if bc.Platform != "" {
			at = " " + bc.Platform
		}
		rows = append(rows,
			[2]string{"build cache" + at, fmt.Sprintf("%d packages, %s raw, %s compressed", bc.Packages, ByteSize(bc.Bytes.Raw), ByteSize(bc.Bytes.Compressed))},
			[2]string{"build settings" + at, bc.Settings})
		if bc.SettingsFrom != "" {
			rows = append(rows, [2]string{"build settings from" + at, bc.SettingsFrom})
		}
		if bc.ReusedFrom != "" {
			rows = append(rows, [2]string{"build cache from" + at, bc.ReusedFrom + " (reused, not compiled)"})
		}
		if bc.Toolchain != "" {
			rows = append(rows, [2]string{"compiled with" + at, bc.Toolchain})
		}
	}
	if d.DepsTag != "" {
		how := "published"
		if d.DepsHit {
			how = "found in the target: left as it is"
		}
		rows = append(rows, [2]string{"deps image", d.DepsTag + " (" + how + ")"})
	}
	for _, m := range d.MainModule {
		at := ""
		if m.Platform != "" {
			at = " " + m.Platform
		}
		rows = append(rows, [2]string{"main module" + at, fmt.Sprintf("%d %s at %s (%s), %s raw, %s compressed",
			m.Packages, plural(m.Packages, "package", "packages"), shortRevision(m.Revision), m.RevisionTime.UTC().Format(time.RFC3339), ByteSize(m.Bytes.Raw), ByteSize(m.Bytes.Compressed))})
		if m.Toolchain != "" {
			rows = append(rows, [2]string{"main module compiled with" + at, m.Toolchain})
		}
	}
	for _, p := range warmPhases {
		if s, ok := d.Seconds[p]; ok {
			rows = append(rows, [2]string{"seconds " + p, fmt.Sprintf("%.2f", s)})
		}
	}
	return rows
}

// WarmAll is what `cachecheck warm --all` did: one warm per module or
// workspace under Root.
type WarmAll struct {
	Header
	Root string `json:"root"`
	Jobs int    `json:"jobs"`
	// Shard is the shard of a CI matrix this run warmed, "I/N" (warm
	// --all --shard); "" for all. Units lists only its units then.
	Shard   string      `json:"shard,omitempty"`
	Units   []*WarmUnit `json:"units"`
	Built   int         `json:"built"`
	Hit     int         `json:"hit"`
	Failed  int         `json:"failed"`
	Seconds float64     `json:"seconds"`

	// Quiet makes the text form one "DIR REF" line per unit warmed, as
	// warm --all -q prints it. It is not part of the JSON form.
	Quiet bool `json:"-"`
}

// WarmUnit is the warm of one module or workspace of a WarmAll.
type WarmUnit struct {
	// Dir is relative to the root, in slash form.
	Dir       string `json:"dir"`
	Workspace bool   `json:"workspace"`
	// Modules are the main modules: the module's path, or the
	// workspace's modules.
	Modules []string `json:"main_modules,omitempty"`
	// Result is "hit", "built", "failed" or "same key" (warmed with
	// SameKeyAs, which has the same key: its image is that unit's).
	Result    string       `json:"result"`
	SameKeyAs string       `json:"same_key_as,omitempty"`
	Key       cachekey.Key `json:"key,omitzero"`
	Warm      *Warm        `json:"warm,omitempty"`
	Error     string       `json:"error,omitempty"`
	Seconds   float64      `json:"seconds"`
}

func (*WarmAll) Kind() string { return "warm-all" }

// WriteText writes a table of the units and a line of totals.
func (d *WarmAll) WriteText(w io.Writer) error {
	if d.Quiet {
		var b strings.Builder
		for _, u := range d.Units {
			if u.Warm != nil {
				fmt.Fprintf(&b, "%s %s\n", u.Dir, u.Warm.Ref)
			}
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	table := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off), withShortDigests())
	table.Header("dir", "module", "key", "result", "modules", "bytes", "seconds")
	for _, u := range d.Units {
		if err := table.Append(u.cells()); err != nil {
			return err
		}
	}
	if err := table.Render(); err != nil {
		return err
	}
	_, err := io.WriteString(w, d.totals()+"\n")
	return err
}

// WriteMarkdown writes the units as a markdown table and the totals.
func (d *WarmAll) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| dir | module | key | result | modules | bytes | seconds |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, u := range d.Units {
		c := u.cells()
		if !u.Key.IsZero() {
			c[2] = "`" + c[2] + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", mdCode(c[0]), mdCell(c[1]), c[2], c[3], c[4], c[5], c[6])
	}
	fmt.Fprintf(&b, "\n%s\n", d.totals())
	_, err := io.WriteString(w, b.String())
	return err
}

func (d *WarmAll) totals() string {
	shard := ""
	if d.Shard != "" {
		shard = ", shard " + d.Shard
	}
	return fmt.Sprintf("%d built, %d hit, %d failed in %.1f s (%d at a time%s)", d.Built, d.Hit, d.Failed, d.Seconds, d.Jobs, shard)
}

// cells are the unit's row of the table: dir, module, key, result,
// modules, bytes and seconds.
func (u *WarmUnit) cells() []string {
	mods, bytes := "-", "-"
	if u.Warm != nil && !u.Warm.Hit {
		mods, bytes = fmt.Sprint(u.Warm.Modules), ByteSize(u.Warm.Bytes.Compressed)
	}
	key := "-"
	if !u.Key.IsZero() {
		key = u.Key.String()
	}
	result := u.Result
	if u.SameKeyAs != "" {
		result = "same key as " + u.SameKeyAs
	}
	return []string{u.Dir, u.moduleLabel(), key, result, mods, bytes, fmt.Sprintf("%.2f", u.Seconds)}
}

// moduleLabel names a unit's module, or its workspace's modules.
func (u *WarmUnit) moduleLabel() string {
	switch {
	case len(u.Modules) == 0:
		return "-"
	case u.Workspace:
		return "go.work: " + strings.Join(u.Modules, ", ")
	default:
		return u.Modules[0]
	}
}

// ByteSize formats n bytes with a decimal unit: "512 B", "1.5 MB".
func ByteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// Ref is what `cachecheck ref` found: the deps image for a key, the
// nearest one, or the fallback.
type Ref struct {
	Header
	Key    cachekey.Key `json:"key"`
	Tag    string       `json:"tag"`
	Target string       `json:"target"`
	Ref    string       `json:"ref"`
	// Match is "exact", "nearest" or "fallback".
	Match string `json:"match"`
	// Shared and Wanted count modules for a nearest match.
	Shared int `json:"shared_modules,omitempty"`
	Wanted int `json:"wanted_modules,omitempty"`
	// BuildCache is what the image's labels say of its build cache; nil
	// when it has none, or for the fallback (not read). For a
	// multi-platform deps image it is that of the image for this
	// machine's architecture, else the first, as in BuildCaches.
	BuildCache *RefBuildCache `json:"build_cache"`
	// BuildCaches are those of each platform's image of a multi-platform
	// deps image that has a build cache (Platform set); nil for a single
	// image.
	BuildCaches []*RefBuildCache `json:"build_caches,omitempty"`
}

// RefBuildCache is what the labels of a deps image say of its build
// cache.
type RefBuildCache struct {
	// Platform is "os/arch" of the image in a multi-platform deps image;
	// "" for a single image.
	Platform string `json:"platform,omitempty"`
	Settings string `json:"settings"`
	Digest   string `json:"settings_digest"`
	Packages int    `json:"packages"`
	// MainModule is what the labels say of the main module's layer of
	// warm --build-cache=all; nil when the image has none.
	MainModule *RefMainModule `json:"main_module,omitempty"`
}

// RefMainModule is the main module's layer of a deps image: its packages
// compiled at a commit.
type RefMainModule struct {
	Revision     string    `json:"revision"`
	RevisionTime time.Time `json:"revision_time"`
	Packages     int       `json:"packages"`
}

func (*Ref) Kind() string { return "ref" }

// WriteText writes the reference alone, for $(cachecheck ref).
func (d *Ref) WriteText(w io.Writer) error {
	_, err := fmt.Fprintln(w, d.Ref)
	return err
}

// shortRevision is the first 12 hex digits of a commit hash, as git
// abbreviates it and deps image tags carry it.
func shortRevision(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
