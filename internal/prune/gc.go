package prune

import (
	"sort"
	"time"
)

// File is a file of an OCI layout that garbage collection considers: a
// blob or a temporary file.
type File struct {
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

// GCPolicy says which files of a layout are garbage.
type GCPolicy struct {
	// Reachable holds the digests of the blobs some tag of the layout
	// needs.
	Reachable map[string]bool
	// OlderThan: only files last modified longer ago than this are
	// garbage, so that a writer that does not lock the layout (another
	// tool, or a system without flock) keeps what it is writing.
	OlderThan time.Duration
	// Now is the time ages are measured from.
	Now time.Time
}

// Garbage returns the files that are garbage under p, sorted by path: the
// temporary files and the blobs no tag needs, modified more than
// p.OlderThan before p.Now.
func Garbage(files []File, p GCPolicy) []File {
	var out []File
	for _, f := range files {
		if p.Now.Sub(f.ModTime) <= p.OlderThan && p.OlderThan > 0 {
			continue
		}
		if f.Temp || f.Digest != "" && !p.Reachable[f.Digest] {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
