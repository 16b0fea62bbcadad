package publish

import (
	"context"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		kind    string // "registry", "oci", "tarball", or "" for an error
		wantErr string
	}{
		{"registry.example.com/team/app-deps", "registry", ""},
		{"127.0.0.1:5000/deps", "registry", ""},
		{"localhost:5000/a/b/c", "registry", ""},
		{"oci:.cachecheck/oci", "oci", ""},
		{"oci:/abs/dir", "oci", ""},
		{"tarball:deps.tar", "tarball", ""},
		{"", "", "empty target"},
		{"oci:", "", "oci: needs a directory"},
		{"tarball:", "", "tarball: needs a file name"},
		{"registry.example.com/team/app-deps:v1", "", `names a tag or digest; give the repository "registry.example.com/team/app-deps" alone`},
		{"registry.example.com/team/app-deps@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "", "names a tag or digest"},
		{"docker://registry.example.com/x", "", "without a scheme (registry.example.com/x)"},
		{"app-deps", "", "does not name a registry host"},
		{"team/app-deps", "", "does not name a registry host"},
		{"Registry.example.com/UPPER", "", "is not a registry repository"},
		{"[::1]:5000/deps", "registry", ""},
		{"ftp:foo", "", `target "ftp:foo": unknown kind "ftp:"; want oci:DIR, tarball:FILE or a registry repository`},
		{"localhost:5000", "", `names a registry but no repository; add one, as in localhost:5000/team/app-deps`},
		{"registry.example.com", "", `names a registry but no repository`},
		{"127.0.0.1:99999/a/b", "", `registry host "127.0.0.1:99999": port "99999" is not a number from 1 to 65535`},
		{"localhost:0/a", "", `port "0" is not a number`},
		{"registry.example.com:http/a", "", `port "http" is not a number`},
		{"[::1]:70000/a", "", `port "70000" is not a number`},
		{"Team/App", "", `does not name a registry host; want HOST[:PORT]/PATH`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			tgt, err := ParseTarget(tc.in)
			if tc.kind == "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseTarget(%q) = %v, %v; want error containing %q", tc.in, tgt, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTarget(%q): %v", tc.in, err)
			}
			var kind string
			switch tgt.(type) {
			case *registryTarget:
				kind = "registry"
			case *layoutTarget:
				kind = "oci"
			case *tarballTarget:
				kind = "tarball"
			}
			if kind != tc.kind {
				t.Fatalf("ParseTarget(%q) is a %s target, want %s", tc.in, kind, tc.kind)
			}
			if tgt.String() != tc.in {
				t.Errorf("String() = %q, want %q", tgt.String(), tc.in)
			}
		})
	}
}

func TestCheckBase(t *testing.T) {
	for _, tc := range []struct{ ref, wantErr string }{
		{"registry.example.com/mirror/golang:1.26", ""},
		{"localhost:5000/golang@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""},
		{"golang:1.26", ""},
		{"oci:base", ""},
		{"oci:base:1.26", ""},
		{"oci:", "oci: needs a directory"},
		{"oci-layout://deps@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""},
		{"oci-layout://deps", "oci-layout:// needs a digest"},
		{"oci-layout://deps@sha256:0123", "sha256"},
		{"127.0.0.1:99999/golang:1", `registry host "127.0.0.1:99999": port "99999" is not a number from 1 to 65535`},
		{"a b", "could not parse reference"},
	} {
		err := CheckBase(tc.ref)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckBase(%q): %v", tc.ref, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckBase(%q) = %v, want an error containing %q", tc.ref, err, tc.wantErr)
		}
	}
}

// TestResolveLayoutRef: the reference Ref gives for an image in an OCI
// layout (what ref prints, and report hands to the analyzer) resolves to
// that image, though the layout holds others.
func TestResolveLayoutRef(t *testing.T) {
	ctx := context.Background()
	target, err := ParseTarget("oci:" + t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	var digests []v1.Hash
	for i := range 2 {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := target.Write(ctx, fmt.Sprintf("t%d", i), img)
		if err != nil {
			t.Fatal(err)
		}
		desc, err := target.Lookup(ctx, fmt.Sprintf("t%d", i))
		if err != nil {
			t.Fatal(err)
		}
		refs, digests = append(refs, target.Ref(fmt.Sprintf("t%d", i), *desc)), append(digests, rep.Digest)
	}
	for i, ref := range refs {
		if err := CheckBase(ref); err != nil {
			t.Errorf("CheckBase(%q): %v", ref, err)
		}
		_, d, err := ResolveBase(ctx, ref)
		if err != nil || d != digests[i] {
			t.Errorf("ResolveBase(%q) = %v, %v; want %v", ref, d, err, digests[i])
		}
	}
}
