package layer

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
)

// Option configures [New].
type Option func(*options) error

type options struct {
	dir         string
	epoch       time.Time
	compression compression.Compression
	level       int
	concurrency int
	tarball     bool
	spoolDir    string
	check       func() Checker
	source      string
}

func defaultOptions() options {
	return options{
		epoch:       time.Unix(0, 0).UTC(),
		compression: compression.GZip,
		level:       -1,
		source:      "files",
	}
}

// SourceDateEpoch returns the time SOURCE_DATE_EPOCH names, in seconds
// since 1970, or the Unix epoch when it is not set: the time reproducible
// builds give what they write (https://reproducible-builds.org/specs/source-date-epoch/).
func SourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// WithDir sets the directory of the layer the files lie in, a slash path
// without leading slash; it and its parents are written first, 0755, at
// the epoch. The default is "": the files lie at the layer's root.
func WithDir(dir string) Option {
	return func(o *options) error { o.dir = dir; return nil }
}

// WithEpoch sets the modification time of the entries whose File.ModTime is
// zero. Callers pass [SourceDateEpoch] unless told otherwise. The default is
// the Unix epoch.
func WithEpoch(t time.Time) Option {
	return func(o *options) error { o.epoch = t.UTC(); return nil }
}

// WithCompression sets the compression of the layer, gzip or zstd, and so
// its media type (types.OCILayer or types.OCILayerZStd). The default is
// gzip.
func WithCompression(c compression.Compression) Option {
	return func(o *options) error {
		if c != compression.GZip && c != compression.ZStd {
			return fmt.Errorf("compression %q: want %q or %q", c, compression.GZip, compression.ZStd)
		}
		o.compression = c
		return nil
	}
}

// WithLevel sets the compression level: for gzip 1-9, for zstd 1-4
// (fastest, default, better, best) or, above 4, zstd's own levels. The
// default is gzip's 6 and zstd's default (about zstd -3).
func WithLevel(level int) Option {
	return func(o *options) error { o.level = level; return nil }
}

// WithConcurrency sets how many goroutines compress the layer. It does not
// change the bytes. The default is GOMAXPROCS for gzip and 1 for zstd:
// callers that pack several layers at once (as depsimage.Pack and the
// registry's uploads do) already keep the CPUs busy, and a streaming zstd
// encoder handing blocks to another goroutine only adds waits (measured on
// client-go, 5 interleaved runs of depsimage's BenchmarkPack under load
// 18-19: 3-39% less wall time with one).
func WithConcurrency(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("concurrency %d is negative", n)
		}
		o.concurrency = n
		return nil
	}
}

// WithTarballCompression compresses as go-containerregistry's
// tarball.LayerFromOpener does: compress/gzip rather than parallel gzip,
// zstd with frame checksums and the level read as zstd's, the default level
// 1 (gzip.BestSpeed), so that the layer has the bytes and digests of one
// packed that way. It is slower: gzip runs in one goroutine. The default is
// off.
func WithTarballCompression() Option {
	return func(o *options) error { o.tarball = true; return nil }
}

// WithSpoolDir keeps the layer's compressed bytes in a temporary file in
// dir, written by the one pass that computes its digests, so that reading
// Compressed reads the file instead of compressing again. It costs disk,
// the compressed size, never memory; the file goes with dir. The default is
// "": nothing is kept and every read of Compressed compresses anew.
func WithSpoolDir(dir string) Option {
	return func(o *options) error { o.spoolDir = dir; return nil }
}

// WithCheck makes every pass over the files (for the digests, and for each
// read of Compressed without a spool, or of Uncompressed) call newChecker
// for a [Checker] that sees the files' bytes as they are written and can
// fail the layer. The default is none.
func WithCheck(newChecker func() Checker) Option {
	return func(o *options) error { o.check = newChecker; return nil }
}

// WithSource names what the files are in errors about reading them, such
// as "packing module cache: open …". The default is "files".
func WithSource(what string) Option {
	return func(o *options) error { o.source = what; return nil }
}

func (o *options) finish() {
	if o.concurrency == 0 {
		o.concurrency = runtime.GOMAXPROCS(0)
		if o.compression == compression.ZStd {
			o.concurrency = 1
		}
	}
}
