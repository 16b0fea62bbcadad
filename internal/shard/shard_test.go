package shard

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestParseSpec(t *testing.T) {
	for _, s := range []string{"1/1", "3/4", "10/10"} {
		if sp, err := ParseSpec(s); err != nil || sp.String() != s {
			t.Errorf("ParseSpec(%q) = %v, %v", s, sp, err)
		}
	}
	for _, s := range []string{"", "1", "0/4", "5/4", "1/0", "a/b", "1/4/2", "-1/4"} {
		if _, err := ParseSpec(s); err == nil {
			t.Errorf("ParseSpec(%q) accepted", s)
		}
	}
}

func randomItems(r *rand.Rand, n int) []Item {
	items := make([]Item, n)
	for i := range items {
		// Sizes spread like deps images: most small, a few large.
		items[i] = Item{Name: fmt.Sprintf("services/svc-%d-%d", i, r.IntN(1e6)), Weight: 5 + 200*r.ExpFloat64()}
	}
	return items
}

// TestAssignBalanced checks that every item has one shard in range, and
// that no shard holds more than the capacity but for items that fit
// nowhere.
func TestAssignBalanced(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		items := randomItems(r, 10+r.IntN(60))
		for _, n := range []int{1, 2, 4, 7} {
			got := Assign(items, n)
			load := make([]float64, n)
			total, heaviest := 0.0, 0.0
			for i, s := range got {
				if s < 0 || s >= n {
					t.Fatalf("item %d in shard %d of %d", i, s, n)
				}
				load[s] += items[i].Weight
				total += items[i].Weight
				heaviest = max(heaviest, items[i].Weight)
			}
			capacity := max((1+Slack)*total/float64(n), heaviest)
			if m := slices.Max(load); m > capacity*(1+1e-9) {
				t.Errorf("trial %d, %d shards: a shard holds %.0f, capacity %.0f", trial, n, m, capacity)
			}
			if !slices.Equal(got, Assign(slices.Clone(items), n)) {
				t.Fatalf("Assign is not deterministic")
			}
			// The order items are given in does not matter.
			rev := slices.Clone(items)
			slices.Reverse(rev)
			back := Assign(rev, n)
			slices.Reverse(back)
			if !slices.Equal(got, back) {
				t.Fatalf("trial %d: Assign depends on the order of the items", trial)
			}
		}
	}
}

// TestAssignStable measures how many items change shard when one is
// added: the property the nightly matrix relies on to keep a module on its
// shard. Pure rendezvous hashing moves none; the load bound moves a few.
func TestAssignStable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const trials, n = 500, 4
	moved, worst, unmovedTrials := 0, 0, 0
	for trial := 0; trial < trials; trial++ {
		items := randomItems(r, 40)
		before := Assign(items, n)
		added := append(slices.Clone(items), Item{Name: fmt.Sprintf("services/new-%d", trial), Weight: 5 + 200*r.ExpFloat64()})
		after := Assign(added, n)
		m := 0
		for i := range items {
			if before[i] != after[i] {
				m++
			}
		}
		moved += m
		worst = max(worst, m)
		if m == 0 {
			unmovedTrials++
		}
	}
	mean := float64(moved) / trials
	t.Logf("adding a module to 40 on %d shards: %.2f others move on average, %d at worst; none move in %d of %d trials", n, mean, worst, unmovedTrials, trials)
	// Reassigning from scratch (by weight alone) would move about 3 in 4.
	if mean > 4 {
		t.Errorf("adding one item moved %.2f of 40 others on average; want a few at most", mean)
	}
}

// TestAssignGolden pins the split: every job of one matrix must compute
// the same one, also when their cachecheck releases differ.
func TestAssignGolden(t *testing.T) {
	items := []Item{{"a", 10}, {"b", 20}, {"c", 30}, {"d", 40}, {"e", 50}, {"f", 60}, {"g", 1}, {"h", 0}}
	got := fmt.Sprint(Assign(items, 3))
	const want = "[0 1 2 2 0 1 1 0]"
	if got != want {
		t.Errorf("Assign = %s, want %s", got, want)
	}
}

// TestAssignHeavy checks a split with one item much heavier than the rest,
// as a repository with one large module among small ones: the heavy item
// has a shard to itself and no shard holds more than it.
func TestAssignHeavy(t *testing.T) {
	for _, c := range []struct {
		name  string
		heavy float64
		small int
	}{
		{"half the total", 400, 40},   // 40 small of 10
		{"opentelemetry-go", 274, 46}, // internal/tools's modules beside 46 modules of 1 to 10
	} {
		r := rand.New(rand.NewPCG(5, 6))
		items := []Item{{Name: "heavy", Weight: c.heavy}}
		for i := 0; i < c.small; i++ {
			w := 10.0
			if c.name != "half the total" {
				w = float64(1 + r.IntN(10))
			}
			items = append(items, Item{Name: fmt.Sprintf("mod-%d", i), Weight: w})
		}
		// The heavy item goes anywhere in the hash order: rename it until
		// every position has been tried.
		for k := 0; k < 50; k++ {
			items[0].Name = fmt.Sprintf("heavy-%d", k)
			got := Assign(items, 4)
			load := make([]float64, 4)
			for i, s := range got {
				load[s] += items[i].Weight
			}
			if m := slices.Max(load); m > c.heavy {
				t.Fatalf("%s, %s: loads %v; the fullest shard holds %.0f, more than the heavy item's %.0f", c.name, items[0].Name, load, m, c.heavy)
			}
		}
	}
}
