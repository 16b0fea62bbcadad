package publish

import (
	"bytes"
	"io"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// countingLayer counts how often its compressed bytes are read.
type countingLayer struct {
	v1.Layer
	compressed int
}

func (c *countingLayer) Compressed() (io.ReadCloser, error) {
	c.compressed++
	return c.Layer.Compressed()
}

func TestSpool(t *testing.T) {
	inner, err := random.Layer(100000, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingLayer{Layer: inner}
	s := Spool(c, t.TempDir())
	defer s.Close()
	for name, f := range map[string]func() (any, error){
		"Digest": func() (any, error) { return s.Digest() },
		"DiffID": func() (any, error) { return s.DiffID() },
		"Size":   func() (any, error) { return s.Size() },
	} {
		got, err := f()
		if err != nil {
			t.Fatal(err)
		}
		var want any
		switch name {
		case "Digest":
			want, _ = inner.Digest()
		case "DiffID":
			want, _ = inner.DiffID()
		case "Size":
			want, _ = inner.Size()
		}
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for i := 0; i < 2; i++ {
		rc, err := s.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		irc, _ := inner.Compressed()
		want, _ := io.ReadAll(irc)
		if !bytes.Equal(got, want) {
			t.Fatalf("read %d: spooled bytes differ from the layer's", i)
		}
	}
	if c.compressed != 1 {
		t.Errorf("inner layer compressed %d times, want once", c.compressed)
	}
}
