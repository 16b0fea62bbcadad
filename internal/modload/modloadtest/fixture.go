package modloadtest

import (
	"fmt"
	"strings"
	"testing"
)

// Fixture is a proxy holding a small module graph and an application that
// uses it:
//
//	example.com/app -> example.com/a v1.0.0 (v1.1.0 also served)
//	                -> example.com/b v1.0.0 -> example.com/c v1.0.0
//	                -> corp.example/p v1.0.0 (private: GOPRIVATE=corp.example)
type Fixture struct {
	Proxy *Proxy
	App   string   // directory of the application module
	Env   []string // environment for the go command
}

// Private is the GOPRIVATE setting of the fixture.
const Private = "corp.example"

// NewFixture writes the proxy and the application with example.com/a at
// aVersion (v1.0.0 or v1.1.0).
func NewFixture(t testing.TB, aVersion string) *Fixture {
	t.Helper()
	p := NewProxy(t)
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		p.Add(t, "example.com/a", v, map[string]string{
			"a.go":          fmt.Sprintf("package a\n\nfunc A() string { return %q }\n", v),
			"internal/x.go": "package internal\n\nconst X = 1\n",
		})
	}
	p.Add(t, "example.com/b", "v1.0.0", map[string]string{
		"go.mod": "module example.com/b\n\ngo 1.21\n\nrequire example.com/c v1.0.0\n",
		"b.go":   "package b\n\nimport \"example.com/c\"\n\nfunc B() string { return \"b\" + c.C() }\n",
	})
	p.Add(t, "example.com/c", "v1.0.0", map[string]string{
		"c.go": "package c\n\nfunc C() string { return \"c\" }\n",
	})
	p.Add(t, "corp.example/p", "v1.0.0", map[string]string{
		"p.go": "package p\n\nfunc P() string { return \"p\" }\n",
	})
	f := &Fixture{Proxy: p, App: t.TempDir(), Env: p.Env(Private)}
	WriteModule(t, f.App, f.Env, map[string]string{
		"go.mod": "module example.com/app\n\ngo 1.21\n\nrequire example.com/a " + aVersion + "\n",
		"main.go": `package main

import (
	"fmt"

	"corp.example/p"
	"example.com/a"
	"example.com/b"
)

func main() { fmt.Println(a.A(), b.B(), p.P()) }
`,
	})
	return f
}

// Setenv sets the fixture's go environment (its proxy, checksum database,
// flags and private patterns) in the test's process environment, for code
// that runs the go command with os.Environ, and clears SOURCE_DATE_EPOCH.
func (f *Fixture) Setenv(t *testing.T) {
	t.Helper()
	for _, kv := range f.Env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "GOPROXY", "GOSUMDB", "GOFLAGS", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOTOOLCHAIN", "GOWORK":
			t.Setenv(k, v)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
}
