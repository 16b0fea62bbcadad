package prune

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
)

func key(t *testing.T, n int) cachekey.Key {
	t.Helper()
	k, err := cachekey.Parse(fmt.Sprintf("ck1-%032x", n))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDecide(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	img := func(n int, module string, age time.Duration) Image {
		k := key(t, n)
		var pub time.Time
		if age >= 0 {
			pub = now.Add(-age)
		}
		return Image{Tag: k.String(), Key: k, Module: module, Published: pub}
	}
	a1, a2, a3, a4 := img(1, "example.com/a", 1*day), img(2, "example.com/a", 10*day), img(3, "example.com/a", 20*day), img(4, "example.com/a", 40*day)
	b1 := img(5, "example.com/b", 50*day)
	unstamped := img(6, "example.com/a", -1)
	tests := []struct {
		name    string
		images  []Image
		policy  Policy
		removed []Image
	}{
		{"keep 2, older than 7d", []Image{a4, a1, a3, a2, b1}, Policy{Keep: 2, OlderThan: 7 * day}, []Image{a3, a4}},
		{"keep 1 per module", []Image{a1, a2, b1}, Policy{Keep: 1}, []Image{a2}},
		{"age alone", []Image{a1, a2, a3, a4}, Policy{Keep: 0, OlderThan: 15 * day}, []Image{a3, a4}},
		{"age exactly the limit is kept", []Image{a1, a2}, Policy{Keep: 0, OlderThan: 10 * day}, nil},
		{"protected", []Image{a1, a2, a3, a4}, Policy{Keep: 1, Protect: []cachekey.Key{a3.Key}}, []Image{a2, a4}},
		{"unstamped kept and not counted", []Image{unstamped, a1, a2}, Policy{Keep: 1}, []Image{a2}},
		{"keep more than there are", []Image{a1, a2}, Policy{Keep: 5}, nil},
		{"nothing", nil, Policy{Keep: 1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.policy.Now = now
			ds := Decide(tc.images, tc.policy)
			if len(ds) != len(tc.images) {
				t.Fatalf("got %d decisions for %d images", len(ds), len(tc.images))
			}
			var got, want []string
			for _, d := range ds {
				if d.Remove {
					got = append(got, d.Tag)
				}
				if d.Reason == "" {
					t.Errorf("%s: no reason", d.Tag)
				}
			}
			for _, i := range tc.removed {
				want = append(want, i.Tag)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("removed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestDecideOrderAndReasons(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	k1, k2 := key(t, 1), key(t, 2)
	ds := Decide([]Image{
		{Tag: "old", Key: k1, Module: "m", Published: now.Add(-72 * time.Hour)},
		{Tag: "new", Key: k2, Module: "m", Published: now.Add(-time.Hour)},
	}, Policy{Keep: 1, OlderThan: 48 * time.Hour, Now: now})
	got := fmt.Sprintf("%s %v %s | %s %v %s", ds[0].Tag, ds[0].Remove, ds[0].Reason, ds[1].Tag, ds[1].Remove, ds[1].Reason)
	want := "new false among the newest 1 of its module | old true published 3d ago, older than 2d, and not among the newest 1 of its module"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseAge(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30d", 30 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"0s", 0, false},
		{"0d", 0, false},
		{"90m", 90 * time.Minute, false},
		{"", 0, true},
		{"d", 0, true},
		{"-1d", 0, true},
		{"-5h", 0, true},
		{"x3d", 0, true},
		{"3dd", 0, true},
		{"3 days", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAge(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ParseAge(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestFormatAge(t *testing.T) {
	for in, want := range map[time.Duration]string{
		0:                   "0s",
		90 * time.Minute:    "1h30m0s",
		48 * time.Hour:      "2d",
		50 * time.Hour:      "2d2h",
		-3 * time.Hour:      "0s",
		30 * 24 * time.Hour: "30d",
	} {
		if got := FormatAge(in); got != want {
			t.Errorf("FormatAge(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestGarbage(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	old, young := now.Add(-time.Hour), now.Add(-time.Minute)
	files := []File{
		{Path: "blobs/sha256/cc", Digest: "sha256:cc", ModTime: old},
		{Path: "blobs/sha256/aa", Digest: "sha256:aa", ModTime: old},
		{Path: "blobs/sha256/bb", Digest: "sha256:bb", ModTime: young},
		{Path: "blobs/sha256/dd", Digest: "sha256:dd", ModTime: old},
		{Path: "blobs/sha256/.tmp-x", Temp: true, ModTime: old},
		{Path: ".tmp-index.json-y", Temp: true, ModTime: young},
	}
	reachable := map[string]bool{"sha256:dd": true}
	for _, tc := range []struct {
		name string
		age  time.Duration
		want []string
	}{
		{"spares the young", 10 * time.Minute, []string{"blobs/sha256/.tmp-x", "blobs/sha256/aa", "blobs/sha256/cc"}},
		{"no age: all unreachable", 0, []string{".tmp-index.json-y", "blobs/sha256/.tmp-x", "blobs/sha256/aa", "blobs/sha256/bb", "blobs/sha256/cc"}},
		{"older than all", 2 * time.Hour, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, f := range Garbage(files, GCPolicy{Reachable: reachable, OlderThan: tc.age, Now: now}) {
				got = append(got, f.Path)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Garbage = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDecideProtectedBy checks that a protected image's reason names what
// protects it, and says "protected" when nothing is named.
func TestDecideProtectedBy(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	k1, k2 := key(t, 1), key(t, 2)
	ds := Decide([]Image{
		{Tag: "a", Key: k1, Module: "m", Published: now.Add(-72 * time.Hour)},
		{Tag: "b", Key: k2, Module: "m", Published: now.Add(-96 * time.Hour)},
	}, Policy{Protect: []cachekey.Key{k1, k2}, ProtectedBy: map[cachekey.Key]string{k1: "--protect-tree . (svc)"}, Now: now})
	got := fmt.Sprintf("%s %v %s | %s %v %s", ds[0].Tag, ds[0].Remove, ds[0].Reason, ds[1].Tag, ds[1].Remove, ds[1].Reason)
	if want := "a false protected by --protect-tree . (svc) | b false protected"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
