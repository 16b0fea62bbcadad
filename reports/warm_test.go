package reports

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/cachekey"
)

func mustKey(s string) cachekey.Key {
	k, err := cachekey.Parse(s)
	if err != nil {
		panic(err)
	}
	return k
}

func sampleWarm() *Warm {
	d := &Warm{
		Key:     mustKey("ck1-0ac58f425b47172330dc6178be3c5dfc"),
		Tag:     "ck1-0ac58f425b47172330dc6178be3c5dfc-bc0123456789ab",
		Target:  "127.0.0.1:5000/app-deps",
		Ref:     "127.0.0.1:5000/app-deps:ck1-0ac58f425b47172330dc6178be3c5dfc-bc0123456789ab@sha256:" + strings.Repeat("ab", 32),
		Digest:  "sha256:" + strings.Repeat("ab", 32),
		Modules: 41,
		Layers:  WarmLayers{New: 3, Reused: 13},
		Bytes:   WarmBytes{Raw: 61_234_567, Compressed: 20_123_456, Written: 4_567},
		Seconds: map[string]float64{"lookup": 0.01, "download": 3.5, "verify": 0.25, "pack+upload": 2, "build-cache": 40.125, "publish": 0.5, "total": 46.4},
		BuildCache: &WarmBuildCache{
			Settings: "go1.26.8 GOOS=linux GOARCH=amd64 GOAMD64=v1 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath",
			Digest:   "0123456789abcdef",
			Packages: 57,
		},
	}
	d.BuildCache.Bytes.Raw, d.BuildCache.Bytes.Compressed = 150_000_000, 40_000_000
	return d
}

func sampleWarmAll() *WarmAll {
	hit := &Warm{Header: Header{ProtocolVersion: ProtocolVersion, DocKind: "warm"}, Key: mustKey("ck1-20a9f58d6a9c7285de8d8c4e6d1e369f"),
		Tag: "ck1-20a9f58d6a9c7285de8d8c4e6d1e369f", Target: "oci:/src/tools/.cachecheck/oci", Ref: "oci-layout:///src/tools/.cachecheck/oci@sha256:" + strings.Repeat("cd", 32),
		Digest: "sha256:" + strings.Repeat("cd", 32), Hit: true, Seconds: map[string]float64{"lookup": 0.01, "total": 0.02}}
	built := sampleWarm()
	built.Header = Header{ProtocolVersion: ProtocolVersion, DocKind: "warm"}
	return &WarmAll{
		Root: ".",
		Jobs: 2,
		Units: []*WarmUnit{
			{Dir: ".", Workspace: true, Modules: []string{"example.com/api", "example.com/web"}, Result: "built", Key: built.Key, Warm: built, Seconds: 46.5},
			{Dir: "broken", Modules: []string{"example.com/broken"}, Result: "failed", Key: mustKey("ck1-a177fd07cccf185bab05061bbd1ec631"), Error: "go mod download failed: example.com/nosuch@v1.0.0: not found", Seconds: 0.5},
			{Dir: "nokey", Result: "failed", Error: "go.mod:3: unknown directive: requirez", Seconds: 0.01},
			{Dir: "tools", Modules: []string{"example.com/tools"}, Result: "hit", Key: hit.Key, Warm: hit, Seconds: 0.02},
		},
		Built: 1, Hit: 1, Failed: 2, Seconds: 47.1,
	}
}

func sampleRef() *Ref {
	return &Ref{
		Key:        mustKey("ck1-18ed5acb9b8038b9617fc243801bee03"),
		Tag:        "ck1-18ed5acb9b8038b9617fc243801bee03-bc0123456789ab",
		Target:     "127.0.0.1:5000/app-deps",
		Ref:        "127.0.0.1:5000/app-deps:ck1-a177fd07cccf185bab05061bbd1ec631-bc0123456789ab@sha256:" + strings.Repeat("ef", 32),
		Match:      "nearest",
		Shared:     41,
		Wanted:     43,
		BuildCache: &RefBuildCache{Settings: "go1.26.8 GOOS=linux GOARCH=amd64 CGO_ENABLED=0 -trimpath", Digest: "0123456789abcdef", Packages: 57},
	}
}

// TestWarmText pins the text of a warm that built, with -q, and of a hit:
// what warm printed before it became a Doc.
func TestWarmText(t *testing.T) {
	built := sampleWarm()
	quiet := sampleWarm()
	quiet.Quiet = true
	for _, tc := range []struct {
		name string
		doc  Doc
		want string
	}{
		{"built", built, readFile(t, "testdata/warm.txt")},
		{"quiet", quiet, quiet.Ref + "\n"},
		{"hit", sampleWarmAll().Units[3].Warm, "hit: oci:/src/tools/.cachecheck/oci already holds ck1-20a9f58d6a9c7285de8d8c4e6d1e369f\noci-layout:///src/tools/.cachecheck/oci@sha256:" + strings.Repeat("cd", 32) + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, Text, tc.doc); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("text:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
}

// TestWarmReusedBuildCache checks that a warm that reused another
// image's build cache layer says which, in text (digest shortened, in the
// table) and in JSON (whole).
func TestWarmReusedBuildCache(t *testing.T) {
	d := sampleWarm()
	from := "127.0.0.1:5000/app-deps:ck1-0ac58f425b47172330dc6178be3c5dfc-bc0123456789ab@sha256:" + strings.Repeat("12", 32)
	d.BuildCache.ReusedFrom = from
	var text, js bytes.Buffer
	if err := Write(&text, Text, d); err != nil {
		t.Fatal(err)
	}
	if err := Write(&js, JSON, d); err != nil {
		t.Fatal(err)
	}
	if want := "│ build cache from    │ 127.0.0.1:5000/app-deps:ck1-0ac58f425b47172330dc6178be3c5dfc-bc0123456789ab@sha256:121212121212… (reused, not compiled)"; !strings.Contains(text.String(), want) {
		t.Errorf("text has no line\n%s\n%s", want, text.String())
	}
	// The reference line, for copying, keeps the digest whole.
	if !strings.Contains(text.String(), "\n"+d.Ref+"\n") {
		t.Errorf("text does not hold the whole reference %s:\n%s", d.Ref, text.String())
	}
	if want := `"reused_from": "` + from + `"`; !strings.Contains(js.String(), want) {
		t.Errorf("JSON has no %s:\n%s", want, js.String())
	}
}

func TestShortDigests(t *testing.T) {
	h := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct{ in, want string }{
		{"sha256:" + h, "sha256:0123456789ab…"},
		{"r@sha256:" + h + " and sha256:" + h, "r@sha256:0123456789ab… and sha256:0123456789ab…"},
		{"sha256:0123", "sha256:0123"},
		{"blobs/sha256/" + h, "blobs/sha256/" + h},
		{"", ""},
	} {
		if got := ShortDigests(tc.in); got != tc.want {
			t.Errorf("ShortDigests(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {1_500_000, "1.5 MB"}, {2_000_000_000_000, "2.0 TB"},
	} {
		if got := ByteSize(tc.n); got != tc.want {
			t.Errorf("ByteSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
