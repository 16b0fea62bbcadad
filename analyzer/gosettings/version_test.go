package gosettings

import "testing"

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in     string
		want   string // String of the version, "" when it does not parse
		lang   string // String of its Lang
		isLang bool
	}{
		{"1.22", "1.22", "1.22", true},
		{"go1.22", "1.22", "1.22", true},
		{"1.22.3", "1.22.3", "1.22", false},
		{"go1.22.3", "1.22.3", "1.22", false},
		{"1.21.0", "1.21.0", "1.21", false},
		{"1.23rc1", "1.23rc1", "1.23", false},
		{"go1.23beta2", "1.23beta2", "1.23", false},
		{"1.20", "1.20", "1.20", true}, // a release before Go 1.21
		{"go1.26.8 X:nodwarf5", "1.26.8", "1.26", false},
		{"1.22-alpine", "1.22", "1.22", true},
		{"1.22.3-bookworm", "1.22.3", "1.22", false},
		{"1.23rc1-alpine3.20", "1.23rc1", "1.23", false},
		{"", "", "", false},
		{"1", "", "", false},
		{"go1", "", "", false},
		{"latest", "", "", false},
		{"alpine", "", "", false},
		{"devel go1.27-abcdef", "", "", false},
		{"v1.22", "", "", false},
		{"1.23alpha1", "1.23", "1.23", true}, // only the prefix "1.23" is a version
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, ok := ParseVersion(tc.in)
			if ok != (tc.want != "") {
				t.Fatalf("ParseVersion(%q) ok = %v, want %v", tc.in, ok, tc.want != "")
			}
			if got := v.String(); got != tc.want {
				t.Errorf("ParseVersion(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !ok {
				if v != (Version{}) {
					t.Errorf("ParseVersion(%q) = %#v with ok false, want the zero Version", tc.in, v)
				}
				return
			}
			if got := v.Lang().String(); got != tc.lang {
				t.Errorf("%v.Lang() = %q, want %q", v, got, tc.lang)
			}
			if got := v.IsLang(); got != tc.isLang {
				t.Errorf("%v.IsLang() = %v, want %v", v, got, tc.isLang)
			}
		})
	}
}

func TestVersionCompare(t *testing.T) {
	// In increasing order, as the go command orders them.
	order := []string{"1.9", "1.14", "1.20", "1.20.1", "1.21", "1.21beta1", "1.21rc1", "1.21rc2", "1.21.0", "1.21.10", "1.22", "go1.22.3"}
	for i, a := range order {
		va, ok := ParseVersion(a)
		if !ok {
			t.Fatalf("ParseVersion(%q) failed", a)
		}
		for j, b := range order {
			vb, _ := ParseVersion(b)
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := va.Compare(vb); got != want {
				t.Errorf("%s.Compare(%s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestSameRelease(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"go1.22.3", "go1.22.3", true},
		{"1.22.3", "go1.22.3", true},
		{"go1.22", "go1.22.3", true},
		{"go1.22", "go1.22rc1", true},
		{"go1.22.3", "go1.22", false}, // only a may be a language version
		{"go1.22.3", "go1.22.4", false},
		{"go1.22", "go1.23.0", false},
		{"go1.23rc1", "go1.23rc2", false},
		{"go1.23rc1", "go1.23beta1", false},
		{"local", "local", true},
		{"local", "go1.22.3", false},
	}
	for _, tc := range tests {
		if got := sameRelease(tc.a, tc.b); got != tc.want {
			t.Errorf("sameRelease(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
