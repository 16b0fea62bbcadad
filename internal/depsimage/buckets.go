package depsimage

import (
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// LargeModule is the size of a module's files in the cache (its zip and
// extracted tree together) from which it gets a layer of its own rather than
// a share of a bucket, so that bumping a small module never sends a giant
// again. Measured on prometheus's module set (BenchmarkBuckets, 16 buckets,
// 4 such modules, among them github.com/aws/aws-sdk-go at 344 MB): the bytes
// re-sent after bumping one module average 11.8 MB (2.7% of the image)
// with it against 27.8 MB (6.5%) without, and at most 79 MB (the largest
// module's own layer) against 148 MB. A module's layer depends only on its
// own size, so it stays put while other modules change.
const LargeModule = 64 << 20

// bucketOf returns the bucket of a module path: a stable hash of the path,
// the same whatever the version, on any machine.
func bucketOf(modPath string, n int) int {
	h := fnv.New32a()
	io.WriteString(h, modPath)
	return int(h.Sum32() % uint32(n))
}

// ownerOf returns the module path a file of the module cache belongs to, or
// "" for files that belong to no module (such as the checksum database
// cache). rel is a slash path below the module cache.
func ownerOf(rel string) string {
	p, err := module.UnescapePath(escapedOwner(rel))
	if err != nil {
		return ""
	}
	return p
}

// escapedOwner returns the escaped module path in rel, the name of a file
// of the module cache, or "" for files that belong to no module.
func escapedOwner(rel string) string {
	if r, ok := strings.CutPrefix(rel, "cache/download/"); ok {
		if strings.HasPrefix(r, "sumdb/") {
			return ""
		}
		i := strings.Index(r, "/@v/")
		if i < 0 {
			return ""
		}
		return r[:i]
	}
	if strings.HasPrefix(rel, "cache/") {
		return ""
	}
	// An extracted tree: escaped/path@version/...
	at := strings.Index(rel, "@")
	if at < 0 {
		return ""
	}
	return rel[:at]
}

// owners is ownerOf remembering its answers: a module has hundreds of
// files, and unescaping and checking its path for each cost 0.07 s of the
// walk of prometheus's module cache.
type owners map[string]string

func (o owners) of(rel string) string {
	esc := escapedOwner(rel)
	p, ok := o[esc]
	if !ok {
		p = ownerOf(rel)
		o[esc] = p
	}
	return p
}

// group is what one layer of a deps image holds.
type group struct {
	name  string
	files []entry          // in the order given to plan
	mods  []module.Version // the downloaded modules the files belong to, sorted
}

// plan is the bucketing policy: it puts the files of a module cache into
// layers, given the number of buckets, the GOPRIVATE-style patterns of
// private modules and the versions downloaded of each module path. It
// returns the layers in the image's order, leaving out the empty ones:
//
//   - "module cache metadata": the files of no module (the checksum
//     database cache), first, as it changes least;
//   - "modules NN of MM": the public modules, by [bucketOf] their path, so
//     that a module lands in the same bucket whatever its version;
//   - "module PATH": each public module whose files add up to
//     [LargeModule] or more, sorted by path;
//   - "private modules": the modules matching the private patterns, last.
//
// It reads only rel and size of the files.
func plan(files []entry, buckets int, private string, downloaded map[string][]module.Version) []group {
	n := buckets
	isPrivate := func(owner string) bool { return private != "" && module.MatchPrefixPatterns(private, owner) }
	own := owners{}
	owner := make([]string, len(files))
	size := map[string]int64{}
	for i, f := range files {
		owner[i] = own.of(f.rel)
		size[owner[i]] += f.size
	}
	// A module of LargeModule bytes or more gets a layer of its own, after
	// the buckets, so that bumping a module that shares its bucket does
	// not send it again.
	var large []string
	for o, s := range size {
		if o != "" && s >= LargeModule && !isPrivate(o) {
			large = append(large, o)
		}
	}
	slices.Sort(large)

	// Groups 0..n-1 are the buckets of public modules, n the private
	// modules, n+1 the rest, n+2... the large modules.
	groups := make([]group, n+2+len(large))
	mods := make([]map[module.Version]bool, len(groups))
	for g := range groups {
		switch {
		case g < n:
			groups[g].name = fmt.Sprintf("modules %02d of %02d", g+1, n)
		case g == n:
			groups[g].name = "private modules"
		case g == n+1:
			groups[g].name = "module cache metadata"
		default:
			groups[g].name = "module " + large[g-n-2]
		}
		mods[g] = map[module.Version]bool{}
	}
	for i, f := range files {
		g := n + 1
		switch o := owner[i]; {
		case o == "":
		case isPrivate(o):
			g = n
		default:
			if j, ok := slices.BinarySearch(large, o); ok {
				g = n + 2 + j
			} else {
				g = bucketOf(o, n)
			}
		}
		groups[g].files = append(groups[g].files, f)
		for _, v := range downloaded[owner[i]] {
			mods[g][v] = true
		}
	}

	order := []int{n + 1}
	for g := range n {
		order = append(order, g)
	}
	for j := range large {
		order = append(order, n+2+j)
	}
	order = append(order, n)
	var out []group
	for _, g := range order {
		if len(groups[g].files) == 0 {
			continue
		}
		groups[g].mods = slices.SortedFunc(maps.Keys(mods[g]), func(a, b module.Version) int {
			if c := strings.Compare(a.Path, b.Path); c != 0 {
				return c
			}
			return strings.Compare(a.Version, b.Version)
		})
		out = append(out, groups[g])
	}
	return out
}
