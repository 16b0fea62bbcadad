package reports

import (
	"bytes"
	"testing"
)

func sampleKey() *Key {
	return &Key{
		Key: mustKey("ck1-20a9f58d6a9c7285de8d8c4e6d1e369f"),
		Dir: "services/api",
		Inputs: []string{
			"schema 1",
			"vendor false",
			"module . go 1.22",
			"module . path example.com/app",
			"sum golang.org/x/text v0.14.0 h1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=",
		},
	}
}

func sampleKeyDiff() *KeyDiff {
	return &KeyDiff{
		Old:     KeySide{mustKey("ck1-a177fd07cccf185bab05061bbd1ec631"), "origin/main:svc"},
		New:     KeySide{mustKey("ck1-18ed5acb9b8038b9617fc243801bee03"), "."},
		Changes: []string{"go 1.22 -> 1.23", "+golang.org/x/mod v0.17.0", "-golang.org/x/sys v0.15.0", "replace ./sdk: go.mod changed", "go.sum: +4 -4 entries"},
	}
}

func TestKeyText(t *testing.T) {
	explain := sampleKey()
	explain.Explain = true
	same := &KeyDiff{Old: KeySide{mustKey("ck1-20a9f58d6a9c7285de8d8c4e6d1e369f"), "HEAD:svc"}, New: KeySide{mustKey("ck1-20a9f58d6a9c7285de8d8c4e6d1e369f"), "."}, Same: true, Changes: []string{}}
	for _, tc := range []struct {
		name string
		doc  Doc
		f    Format
		want string
	}{
		{"key", sampleKey(), Text, "ck1-20a9f58d6a9c7285de8d8c4e6d1e369f\n"},
		{"explain", explain, Text, "schema 1\nvendor false\nmodule . go 1.22\nmodule . path example.com/app\nsum golang.org/x/text v0.14.0 h1:ScX5w1eTa3QqT8oi6+ziP7dTV1S2+ALU0bI+0zXKWiQ=\nkey ck1-20a9f58d6a9c7285de8d8c4e6d1e369f\n"},
		{"diff", sampleKeyDiff(), Text, `key ck1-a177fd07cccf185bab05061bbd1ec631 (origin/main:svc) -> ck1-18ed5acb9b8038b9617fc243801bee03 (.)
  go 1.22 -> 1.23
  +golang.org/x/mod v0.17.0
  -golang.org/x/sys v0.15.0
  replace ./sdk: go.mod changed
  go.sum: +4 -4 entries
`},
		{"diff markdown", sampleKeyDiff(), Markdown, "**Dependency key:** `ck1-a177fd07cccf185bab05061bbd1ec631` (`origin/main:svc`) → `ck1-18ed5acb9b8038b9617fc243801bee03` (`.`)\n\n" +
			"- go 1.22 -> 1.23\n- +golang.org/x/mod v0.17.0\n- -golang.org/x/sys v0.15.0\n- replace ./sdk: go.mod changed\n- go.sum: +4 -4 entries\n"},
		{"same", same, Text, "same key ck1-20a9f58d6a9c7285de8d8c4e6d1e369f for HEAD:svc and .\n"},
		{"same markdown", same, Markdown, "**Dependency key:** unchanged, `ck1-20a9f58d6a9c7285de8d8c4e6d1e369f` for `HEAD:svc` and `.`\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tc.f, tc.doc); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("%s:\n%s\nwant:\n%s", tc.f, b.String(), tc.want)
			}
		})
	}
	var b bytes.Buffer
	if err := Write(&b, Markdown, sampleKey()); err == nil {
		t.Errorf("Write(markdown) of a key document succeeded:\n%s", b.String())
	}
}
