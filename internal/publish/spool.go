package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spool returns l with its compressed bytes kept in a temporary file in
// dir once computed, so that they are compressed once: the first call of
// Digest, Size, DiffID or Compressed streams l.Compressed() to the file,
// hashing it, while l.Uncompressed() is hashed for the diff ID; later
// Compressed calls read the file. Without it, a layer that compresses on
// every read (as depsimage's do) is compressed once for its digest and
// again for the upload. The file is removed by Close or when dir is.
// It costs disk, the compressed size, never memory.
func Spool(l v1.Layer, dir string) *SpooledLayer {
	return &SpooledLayer{inner: l, dir: dir}
}

// SpooledLayer is a layer whose compressed bytes are spooled to a file.
type SpooledLayer struct {
	inner v1.Layer
	dir   string

	once   sync.Once
	err    error
	file   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
}

func (s *SpooledLayer) compute() error {
	s.once.Do(func() { s.err = s.spool() })
	return s.err
}

func (s *SpooledLayer) spool() error {
	f, err := os.CreateTemp(s.dir, "layer-*.spool")
	if err != nil {
		return fmt.Errorf("spooling layer: %w", err)
	}
	defer f.Close()
	diffc := make(chan error, 1)
	var diffID v1.Hash
	go func() {
		rc, err := s.inner.Uncompressed()
		if err != nil {
			diffc <- err
			return
		}
		defer rc.Close()
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			diffc <- err
			return
		}
		diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
		diffc <- nil
	}()
	rc, err := s.inner.Compressed()
	if err != nil {
		<-diffc
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err == nil {
		err = f.Close()
	}
	if derr := <-diffc; err == nil {
		err = derr
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("spooling layer to %q: %w", f.Name(), err)
	}
	s.file, s.size = f.Name(), n
	s.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	s.diffID = diffID
	return nil
}

// Digest returns the sha256 of the compressed layer.
func (s *SpooledLayer) Digest() (v1.Hash, error) { return s.digest, s.compute() }

// DiffID returns the sha256 of the uncompressed layer.
func (s *SpooledLayer) DiffID() (v1.Hash, error) { return s.diffID, s.compute() }

// Size returns the size of the compressed layer.
func (s *SpooledLayer) Size() (int64, error) { return s.size, s.compute() }

// Compressed reads the spooled file.
func (s *SpooledLayer) Compressed() (io.ReadCloser, error) {
	if err := s.compute(); err != nil {
		return nil, err
	}
	return os.Open(s.file)
}

// Uncompressed streams the inner layer's uncompressed bytes.
func (s *SpooledLayer) Uncompressed() (io.ReadCloser, error) { return s.inner.Uncompressed() }

// MediaType returns the inner layer's media type.
func (s *SpooledLayer) MediaType() (types.MediaType, error) { return s.inner.MediaType() }

// Close removes the spooled file.
func (s *SpooledLayer) Close() error {
	if s.file == "" {
		return nil
	}
	return os.Remove(s.file)
}
