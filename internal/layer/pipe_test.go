package layer

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// TestPipe: the consumer receives the producer's bytes in order, the hash
// sees the same bytes, and an error on either side ends both and is
// returned.
func TestPipe(t *testing.T) {
	data := make([]byte, 5*chunkSize+12345)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	// produce writes data in uneven pieces, failing after limit bytes
	// with errProduce when limit >= 0.
	errProduce := errors.New("produce failed")
	produce := func(limit int) func(io.Writer) error {
		return func(w io.Writer) error {
			for off, n := 0, 1; off < len(data); off, n = off+n, n*3+1 {
				end := min(off+n, len(data))
				if limit >= 0 && end > limit {
					return errProduce
				}
				if _, err := w.Write(data[off:end]); err != nil {
					return err
				}
			}
			return nil
		}
	}

	t.Run("ok", func(t *testing.T) {
		var got bytes.Buffer
		h := sha256.New()
		err := pipe(produce(-1), h, func(c []byte) error {
			if len(c) > chunkSize {
				t.Errorf("chunk of %d bytes, want at most %d", len(c), chunkSize)
			}
			got.Write(c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("consumer got %d bytes, differing from the %d produced", got.Len(), len(data))
		}
		if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Error("hash differs from the bytes produced")
		}
	})
	t.Run("producer fails", func(t *testing.T) {
		err := pipe(produce(3*chunkSize), io.Discard, func([]byte) error { return nil })
		if !errors.Is(err, errProduce) {
			t.Errorf("err = %v, want %v", err, errProduce)
		}
	})
	t.Run("consumer fails", func(t *testing.T) {
		errConsume := errors.New("disk full")
		calls := 0
		err := pipe(produce(-1), io.Discard, func([]byte) error {
			calls++
			if calls == 2 {
				return errConsume
			}
			return nil
		})
		if !errors.Is(err, errConsume) {
			t.Errorf("err = %v, want %v", err, errConsume)
		}
		if calls != 2 {
			t.Errorf("consumer called %d times, want no call after it failed", calls)
		}
	})
}
