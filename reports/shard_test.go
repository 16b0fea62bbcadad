package reports

import (
	"bytes"
	"strings"
	"testing"
)

func sampleWarmCheck() *WarmCheck {
	return &WarmCheck{
		Root:   ".",
		Target: "127.0.0.1:5000/app-deps",
		Units: []*CheckUnit{
			{Dir: "services/api", Modules: []string{"example.com/api"}, Key: mustKey("ck1-20a9f58d6a9c7285de8d8c4e6d1e369f"), Tag: "ck1-20a9f58d6a9c7285de8d8c4e6d1e369f",
				Result: "present", Ref: "127.0.0.1:5000/app-deps:ck1-20a9f58d6a9c7285de8d8c4e6d1e369f@sha256:" + strings.Repeat("cd", 32)},
			{Dir: "services/web", Modules: []string{"example.com/web"}, Key: mustKey("ck1-a177fd07cccf185bab05061bbd1ec631"), Tag: "ck1-a177fd07cccf185bab05061bbd1ec631",
				Result: "missing", Error: "no image ck1-a177fd07cccf185bab05061bbd1ec631"},
			{Dir: "nokey", Result: "failed", Error: "go.mod:3: unknown directive: requirez"},
		},
		Present: 1, Missing: 2,
	}
}

func TestWarmCheckText(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, Text, sampleWarmCheck()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"│ services/web │ ck1-a177fd07cccf185bab05061bbd1ec631 │ missing │ no image ck1-a177fd07cccf185bab05061bbd1ec631",
		// Digests are shortened in text.
		"ck1-20a9f58d6a9c7285de8d8c4e6d1e369f@sha256:cdcdcdcdcdcd",
		"1 of 3 units have their image in 127.0.0.1:5000/app-deps; 2 missing",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text has no %q:\n%s", want, b.String())
		}
	}
}

func TestWarmPlan(t *testing.T) {
	p := &WarmPlan{Root: ".", Target: "127.0.0.1:5000/app-deps", Shards: 3, ToWarm: 3, Units: []*PlanUnit{
		{Dir: "a", Key: mustKey("ck1-20a9f58d6a9c7285de8d8c4e6d1e369f"), Shard: "2/3", Weight: 12_500_000, WeightFrom: "ck1-0123456789abcdef0123456789abcdef"},
		{Dir: "b", Key: mustKey("ck1-a177fd07cccf185bab05061bbd1ec631"), Shard: "1/3", Weight: 41, WeightFrom: "modules"},
		{Dir: "c", Key: mustKey("ck1-a177fd07cccf185bab05061bbd1ec631"), SameKeyAs: "b"},
		{Dir: "d", Key: mustKey("ck1-18ed5acb9b8038b9617fc243801bee03"), Published: true, Shard: "3/3", Weight: 3_000_000, WeightFrom: "modules × 100.0 kB"},
	}}
	var m bytes.Buffer
	if err := p.WriteMatrix(&m); err != nil {
		t.Fatal(err)
	}
	if want := `{"include":[{"shard":"1/3"},{"shard":"2/3"},{"shard":"3/3"}]}` + "\n"; m.String() != want {
		t.Errorf("matrix %q, want %q", m.String(), want)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"│ 2/3    │ 12.5 MB ", "│ 41 modules", "│ with b │ -  ", "│ yes       │ 3/3    │ 3.0 MB (modules × 100.0 kB)", "3 shards for 3 of 4 units to warm into 127.0.0.1:5000/app-deps"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text has no %q:\n%s", want, b.String())
		}
	}
}
