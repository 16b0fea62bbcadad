// Package shard splits work over the N jobs of a CI matrix so that every
// job, computing the split on its own from the same inputs, reaches the
// same answer: each item goes to exactly one shard. Nothing passes between
// the jobs but the shard number.
//
// The split is rendezvous hashing with bounded loads. Every item ranks the
// shards by a hash of its name and the shard's number, and takes the first
// shard in its ranking that has room for its weight: a shard holds at most
// [Slack] more than the mean weight (or the heaviest item, when that is
// more). Items too heavy to be sure of finding room late are placed
// first, heaviest first; the others in the order of a hash of their names,
// which does not depend on the other items. So an item keeps its shard when
// others are added or removed unless a shard it ranks higher gains or
// loses room, and when N changes, only the items of the shards that come
// or go move, as far as the loads allow.
package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Slack is how far above the mean weight a shard may be filled.
//
// It trades balance against stability. On 40 items of weights spread like
// deps images (TestAssignStable's) on 4 shards, the fullest shard holds
// 1.05, 1.13, 1.21 and 1.36 times the mean with a slack of 0.05, 0.15,
// 0.25 and 0.5, and adding an item moves 4.4, 1.9, 1.0 and 0.3 others on
// average; without a bound (plain rendezvous hashing) 1.47 and none.
const Slack = 0.25

// Item is a piece of work to place.
type Item struct {
	// Name identifies the item stably: the same name on every job and
	// every night (a module's directory, say). Names are unique.
	Name string
	// Weight is the work the item is expected to take; 0 counts as 1.
	Weight float64
}

// Spec is the shard I of N a job runs: "I/N", 1 ≤ I ≤ N.
type Spec struct{ I, N int }

// ParseSpec parses "I/N".
func ParseSpec(s string) (Spec, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return Spec{}, fmt.Errorf("%q: want I/N, such as 1/4", s)
	}
	if n < 1 || i < 1 || i > n {
		return Spec{}, fmt.Errorf("%q: want 1 ≤ I ≤ N", s)
	}
	return Spec{I: i, N: n}, nil
}

func (s Spec) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

// Assign returns the shard (0 to n-1) of each item, by index.
func Assign(items []Item, n int) []int {
	if n < 1 {
		panic("shard.Assign: n < 1")
	}
	out := make([]int, len(items))
	if n == 1 {
		return out
	}
	total, heaviest := 0.0, 0.0
	for _, it := range items {
		w := weight(it)
		total += w
		heaviest = max(heaviest, w)
	}
	capacity := max((1+Slack)*total/float64(n), heaviest)
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	// An item no heavier than this finds room whenever it comes: before
	// it, the shards hold at most total-w, so the least loaded one holds
	// at most (total-w)/n, and that plus w fits in the capacity. Heavier
	// items are placed first, heaviest first, while the shards still have
	// room for them; placed late in hash order, one would go over the
	// capacity (a module of 274 modules among small ones filled its shard
	// to 2.6 times the others').
	mean := total / float64(n)
	heavy := (capacity - mean) * float64(n) / float64(n-1)
	isHeavy := func(i int) bool { return weight(items[i]) > heavy*(1+1e-9) }
	placeKey := func(i int) uint64 { return hash(items[i].Name, -1) }
	slices.SortFunc(order, func(a, b int) int {
		ha, hb := isHeavy(a), isHeavy(b)
		switch {
		case ha && !hb:
			return -1
		case hb && !ha:
			return 1
		case ha && hb && weight(items[a]) != weight(items[b]):
			if weight(items[a]) > weight(items[b]) {
				return -1
			}
			return 1
		}
		if ka, kb := placeKey(a), placeKey(b); ka != kb {
			if ka < kb {
				return -1
			}
			return 1
		}
		return strings.Compare(items[a].Name, items[b].Name)
	})
	load := make([]float64, n)
	for _, i := range order {
		w := weight(items[i])
		rank := Ranking(items[i].Name, n)
		best := -1
		for _, s := range rank {
			if load[s]+w <= capacity*(1+1e-9) {
				best = s
				break
			}
		}
		if best < 0 { // no room anywhere (heavy items that pack badly): the least loaded
			best = rank[0]
			for _, s := range rank {
				if load[s] < load[best] {
					best = s
				}
			}
		}
		load[best] += w
		out[i] = best
	}
	return out
}

// Ranking returns the shards 0 to n-1 in the order the item name prefers
// them.
func Ranking(name string, n int) []int {
	rank := make([]int, n)
	score := make([]uint64, n)
	for s := range rank {
		rank[s], score[s] = s, hash(name, s)
	}
	slices.SortFunc(rank, func(a, b int) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return a - b
	})
	return rank
}

func weight(it Item) float64 {
	if it.Weight <= 0 {
		return 1
	}
	return it.Weight
}

// hash is the first 8 bytes of SHA-256 of the name and the shard number
// (-1 for the placing order): the same on every machine and release.
func hash(name string, shard int) uint64 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(shard)))
	return binary.BigEndian.Uint64(h.Sum(nil))
}
