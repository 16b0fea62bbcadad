package cachekey

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	k := keyOf([]byte("schema 1\n"))
	s := k.String()
	if !strings.HasPrefix(s, Prefix) || len(s) != len(Prefix)+32 {
		t.Fatalf("String() = %q, want %q and 32 hex digits", s, Prefix)
	}
	got, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	if got != k {
		t.Fatalf("Parse(%q) = %v, want %v", s, got, k)
	}
	data, err := json.Marshal(struct{ K Key }{k})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"K":"` + s + `"}`; string(data) != want {
		t.Fatalf("json = %s, want %s", data, want)
	}
	var back struct{ K Key }
	if err := json.Unmarshal(data, &back); err != nil || back.K != k {
		t.Fatalf("json round trip = %v, %v; want %v", back.K, err, k)
	}
	if _, err := (Key{}).MarshalText(); err == nil {
		t.Fatal("MarshalText of the zero key succeeded")
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `want prefix "ck1-"`},
		{"ck2-0123456789abcdef0123456789abcdef", `want prefix "ck1-"`},
		{"ck1-0123", "want 32 hex digits"},
		{"ck1-0123456789ABCDEF0123456789ABCDEF", "lower case"},
		{"ck1-0123456789abcdef0123456789abcdeg", "invalid byte"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) error = %v, want it to contain %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestParseSum(t *testing.T) {
	const h = "h1:6W6MbVUrnMb8PEhjkqwsVLY7ryuzRfFHF4mQd7L94ag="
	for _, tc := range []struct {
		name, in string
		want     []string // entries as strings
		err      string
	}{
		{name: "empty", in: ""},
		{name: "one", in: "a.com/b v1.0.0 " + h + "\n", want: []string{"a.com/b v1.0.0 " + h}},
		{name: "no final newline", in: "a.com/b v1.0.0 " + h, want: []string{"a.com/b v1.0.0 " + h}},
		{name: "crlf and blanks", in: "\r\na.com/b v1.0.0 " + h + "\r\n\r\n  a.com/b v1.0.0/go.mod\t" + h + "  \r\n",
			want: []string{"a.com/b v1.0.0 " + h, "a.com/b v1.0.0/go.mod " + h}},
		{name: "duplicates kept", in: "a.com/b v1.0.0 " + h + "\na.com/b v1.0.0 " + h + "\n",
			want: []string{"a.com/b v1.0.0 " + h, "a.com/b v1.0.0 " + h}},
		{name: "empty go.mod hash ignored", in: "a.com/b v1.0.0/go.mod " + emptyGoModHash + "\n"},
		{name: "two fields", in: "a.com/b v1.0.0 " + h + "\na.com/c v1.0.0\n", err: "go.sum:2: want 3 fields (module path, version, hash), have 2"},
		{name: "four fields", in: "a.com/b v1.0.0 " + h + " extra\n", err: "go.sum:1: want 3 fields (module path, version, hash), have 4"},
		{name: "bad hash", in: "\n\na.com/b v1.0.0 deadbeef\n", err: `go.sum:3: malformed hash "deadbeef": want ALGORITHM:DIGEST, such as h1:…`},
		{name: "empty digest", in: "a.com/b v1.0.0 h1:\n", err: `go.sum:1: malformed hash "h1:"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := ParseSum("go.sum", []byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				got = append(got, e.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
