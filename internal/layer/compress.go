package layer

import (
	"compress/gzip"
	"errors"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// compressor returns the writer compressing into w as the options say, and
// the function that gives it back once closed.
func (o *options) compressor(w io.Writer) (io.WriteCloser, func(), error) {
	if o.tarball {
		// What go-containerregistry's internal/gzip and internal/zstd
		// write for tarball.LayerFromOpener.
		level := o.level
		if level <= 0 {
			level = gzip.BestSpeed
		}
		if o.compression == compression.ZStd {
			zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
			return zw, func() {}, err
		}
		gw, err := gzip.NewWriterLevel(w, level)
		return gw, func() {}, err
	}
	if o.compression == compression.ZStd {
		level := zstd.SpeedDefault
		if o.level > 0 {
			level = zstd.EncoderLevelFromZstd(o.level)
			if o.level <= 4 {
				level = zstd.EncoderLevel(o.level)
			}
		}
		zw, err := getZstd(w, level, o.concurrency)
		if err != nil {
			return nil, nil, err
		}
		return zw, func() { putZstd(zw, level, o.concurrency) }, nil
	}
	level := o.level
	if level <= 0 {
		level = 6
	}
	gw, err := getGzip(w, level, o.concurrency)
	if err != nil {
		return nil, nil, err
	}
	return gw, func() { putGzip(gw, level, o.concurrency) }, nil
}

// gzipPools keeps pgzip writers, whose block buffers are worth reusing
// from one layer to the next, by level and concurrency.
var gzipPools sync.Map // [2]int -> *sync.Pool

func getGzip(w io.Writer, level, concurrency int) (*pgzip.Writer, error) {
	p, _ := gzipPools.LoadOrStore([2]int{level, concurrency}, &sync.Pool{})
	if gw, ok := p.(*sync.Pool).Get().(*pgzip.Writer); ok {
		gw.Reset(w)
		return gw, nil
	}
	gw, err := pgzip.NewWriterLevel(w, level)
	if err != nil {
		return nil, err
	}
	// The block size fixes the bytes; the number of blocks in flight only
	// the speed and the memory.
	if err := gw.SetConcurrency(1<<20, concurrency); err != nil {
		return nil, err
	}
	return gw, nil
}

func putGzip(gw *pgzip.Writer, level, concurrency int) {
	p, _ := gzipPools.Load([2]int{level, concurrency})
	p.(*sync.Pool).Put(gw)
}

// zstdPools keeps zstd encoders, whose match tables and history buffers
// are worth reusing from one layer to the next, by level and concurrency.
var zstdPools sync.Map // [2]int -> *sync.Pool

func getZstd(w io.Writer, level zstd.EncoderLevel, concurrency int) (*zstd.Encoder, error) {
	p, _ := zstdPools.LoadOrStore([2]int{int(level), concurrency}, &sync.Pool{})
	if zw, ok := p.(*sync.Pool).Get().(*zstd.Encoder); ok {
		zw.Reset(w)
		return zw, nil
	}
	// No frame checksum (xxhash64): the layer's sha256 digest, which every
	// OCI client checks on pull, already covers the bytes; leaving it out
	// saves 2% of the packing CPU.
	return zstd.NewWriter(w, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(concurrency), zstd.WithEncoderCRC(false))
}

func putZstd(zw *zstd.Encoder, level zstd.EncoderLevel, concurrency int) {
	p, _ := zstdPools.Load([2]int{int(level), concurrency})
	p.(*sync.Pool).Put(zw)
}

// compress writes the compressed tar stream to w, and the tar stream to
// diffID if it is not nil.
func (l *fileLayer) compress(w io.Writer, diffID io.Writer) error {
	cw, release, err := l.opts.compressor(w)
	if err != nil {
		return err
	}
	defer release()
	if diffID == nil {
		if err := l.writeTar(cw); err != nil {
			cw.Close()
			return err
		}
		return cw.Close()
	}
	// Reading the files, writing the tar and hashing it run in one
	// goroutine, compressing in another: a layer far larger than the others
	// would otherwise keep one CPU busy long after the rest are done.
	err = pipe(l.writeTar, diffID, func(chunk []byte) error {
		_, err := cw.Write(chunk)
		return err
	})
	if err != nil {
		cw.Close()
		return err
	}
	return cw.Close()
}

// Chunks handed from the tar writer to the compressor: their size and how
// many may be in flight per layer.
const (
	chunkSize  = 1 << 20
	chunkDepth = 4
)

// errStopped ends the producer of a pipe whose consumer failed.
var errStopped = errors.New("stopped")

// pipe runs produce in its own goroutine, writing into chunks that it
// hashes into h and that consume receives in order in the calling
// goroutine. It returns the first error of either side.
func pipe(produce func(io.Writer) error, h io.Writer, consume func([]byte) error) error {
	c := &chunker{h: h, free: make(chan []byte, chunkDepth), full: make(chan []byte, chunkDepth), stop: make(chan struct{})}
	for range chunkDepth {
		c.free <- make([]byte, 0, chunkSize)
	}
	produced := make(chan error, 1)
	go func() {
		err := produce(c)
		if err == nil {
			err = c.flush()
		}
		close(c.full)
		produced <- err
	}()
	var cerr error
	for chunk := range c.full {
		if cerr == nil {
			if cerr = consume(chunk); cerr != nil {
				close(c.stop)
			}
		}
		c.free <- chunk[:0]
	}
	if perr := <-produced; cerr == nil && !errors.Is(perr, errStopped) {
		return perr
	}
	return cerr
}

// chunker is the producer's side of a pipe.
type chunker struct {
	h          io.Writer
	free, full chan []byte
	stop       chan struct{}
	cur        []byte
}

func (c *chunker) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if c.cur == nil {
			select {
			case c.cur = <-c.free:
			case <-c.stop:
				return 0, errStopped
			}
		}
		k := copy(c.cur[len(c.cur):cap(c.cur)], p)
		c.cur, p = c.cur[:len(c.cur)+k], p[k:]
		if len(c.cur) == cap(c.cur) {
			if err := c.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush hashes the current chunk and hands it over.
func (c *chunker) flush() error {
	if len(c.cur) == 0 {
		return nil
	}
	c.h.Write(c.cur)
	select {
	case c.full <- c.cur:
		c.cur = nil
		return nil
	case <-c.stop:
		return errStopped
	}
}
