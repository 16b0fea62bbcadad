package envlist

import (
	"slices"
	"testing"
)

func TestLookupSet(t *testing.T) {
	env := []string{"A=1", "B=2", "A=3", "C"}
	if v, ok := Lookup(env, "A"); !ok || v != "3" {
		t.Errorf("Lookup A = %q, %v; want the last setting, 3", v, ok)
	}
	if _, ok := Lookup(env, "C"); ok {
		t.Error("Lookup found C, which has no '='")
	}
	if v, ok := Lookup(env, "D"); ok || v != "" {
		t.Errorf("Lookup D = %q, %v; want nothing", v, ok)
	}
	got := Set(env, "A", "4")
	if want := []string{"B=2", "C", "A=4"}; !slices.Equal(got, want) {
		t.Errorf("Set A = %q, want %q", got, want)
	}
	if want := []string{"A=1", "B=2", "A=3", "C"}; !slices.Equal(env, want) {
		t.Errorf("Set changed its argument to %q", env)
	}
}
