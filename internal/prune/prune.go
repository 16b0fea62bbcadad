// Package prune decides which deps images a repository no longer needs,
// and which files of an OCI layout are garbage.
package prune

import (
	"fmt"
	"sort"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/reports"
)

// Image is one deps image in a target.
type Image struct {
	Tag    string
	Key    cachekey.Key
	Digest string
	// Module groups the images: the module path (or, for a workspace, the
	// space-separated module paths) the image was warmed for; "" when the
	// image does not record it.
	Module string
	// Published is when the image was published; zero when not known (no
	// stamp).
	Published time.Time
}

// Policy says which images to keep.
type Policy struct {
	// Keep is how many images to keep per module, newest first, whatever
	// their age.
	Keep int
	// OlderThan: only images published longer ago than this are removed.
	OlderThan time.Duration
	// Protect lists keys whose images are always kept.
	Protect []cachekey.Key
	// ProtectedBy says, for the reason of a kept image, what protects a
	// key of Protect ("--protect-tree . (services/api)"); a key it lacks
	// is "protected".
	ProtectedBy map[cachekey.Key]string
	// Now is the time ages are measured from.
	Now time.Time
}

// Decision says what to do with one image and why.
type Decision struct {
	Image
	Remove bool
	// Reason is a short phrase: why the image is kept or removed.
	Reason string
}

// Decide applies p to images. An image is removed when all of these hold:
// its key is not protected, its publication time is known, it is not among
// the Keep newest images of its module, and it was published more than
// OlderThan before Now. The decisions come grouped by module (in order of
// module), newest first within a module.
func Decide(images []Image, p Policy) []Decision {
	protected := map[cachekey.Key]bool{}
	for _, k := range p.Protect {
		protected[k] = true
	}
	sorted := append([]Image(nil), images...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Module != b.Module {
			return a.Module < b.Module
		}
		if !a.Published.Equal(b.Published) {
			// Unknown (zero) times sort last: they are kept anyway.
			if a.Published.IsZero() || b.Published.IsZero() {
				return b.Published.IsZero()
			}
			return a.Published.After(b.Published)
		}
		return a.Tag < b.Tag
	})
	var out []Decision
	rank := 0
	for i, img := range sorted {
		if i == 0 || img.Module != sorted[i-1].Module {
			rank = 0
		}
		d := Decision{Image: img}
		age := p.Now.Sub(img.Published)
		switch {
		case protected[img.Key]:
			d.Reason = "protected"
			if by := p.ProtectedBy[img.Key]; by != "" {
				d.Reason = "protected by " + by
			}
		case img.Published.IsZero():
			d.Reason = "no stamp: publication time unknown"
		case rank < p.Keep:
			d.Reason = fmt.Sprintf("among the newest %d of its module", p.Keep)
		case age <= p.OlderThan:
			d.Reason = fmt.Sprintf("published %s ago, not older than %s", FormatAge(age), FormatAge(p.OlderThan))
		default:
			d.Remove = true
			d.Reason = fmt.Sprintf("published %s ago, older than %s, and not among the newest %d of its module", FormatAge(age), FormatAge(p.OlderThan), p.Keep)
		}
		if !img.Published.IsZero() {
			rank++
		}
		out = append(out, d)
	}
	return out
}

// FormatAge formats d as [reports.FormatAge] does: "3d", "3d4h", "5h0m0s".
func FormatAge(d time.Duration) string { return reports.FormatAge(d) }

// ParseAge parses a duration as time.ParseDuration does, also accepting a
// number of days with the suffix "d" ("30d", "1d12h").
func ParseAge(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	for i, c := range s {
		if c == 'd' {
			var n int
			if _, err := fmt.Sscanf(s[:i], "%d", &n); err != nil || fmt.Sprint(n) != s[:i] || n < 0 {
				return 0, fmt.Errorf("invalid duration %q: want e.g. 30d, 36h or 1d12h", s)
			}
			days = time.Duration(n) * 24 * time.Hour
			rest = s[i+1:]
			break
		}
	}
	if rest == "" {
		if s == "" {
			return 0, fmt.Errorf("invalid duration \"\": want e.g. 30d, 36h or 1d12h")
		}
		return days, nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 30d, 36h or 1d12h", s)
	}
	return days + d, nil
}
