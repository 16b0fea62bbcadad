package depsimage

import (
	"fmt"
	"time"

	"github.com/cachecheck/cachecheck/internal/layer"
	"github.com/google/go-containerregistry/pkg/compression"
)

// Contents says what of the module cache goes into the layers.
const (
	// ContentsFull packs cache/download and the extracted module trees:
	// what `go mod download` leaves.
	ContentsFull = "full"
	// ContentsZips packs cache/download only; the go command extracts the
	// zips it needs on first use, offline.
	ContentsZips = "zips"
)

// Compression algorithms of the layers.
const (
	Gzip = "gzip"
	Zstd = "zstd"
)

// DefaultBuckets is the number of layers modules are spread over by default,
// besides the layer of private modules and the layer of the rest of the
// cache. Measured by bench.sh on prometheus's 251 modules (430 MB zstd):
// bumping one module re-uploads on average 24% of the image with 4 buckets,
// 13% with 8, 6.5% with 16 and 3.5% with 32; 16 is the fewest buckets under
// 10%, and more buckets mean more blobs to check and pull for little gain,
// since the largest modules (150 MB) dominate the worst case anyway.
const DefaultBuckets = 16

// DefaultContents is what goes into the layers by default.
const DefaultContents = ContentsFull

// Option configures [Layers].
type Option func(*options) error

type options struct {
	buckets  int
	contents string
	private  string
	layer    []layer.Option // how to write the layers, after the defaults
}

func defaultOptions() (options, error) {
	epoch, err := layer.SourceDateEpoch()
	return options{
		buckets:  DefaultBuckets,
		contents: DefaultContents,
		layer:    []layer.Option{layer.WithEpoch(epoch)},
	}, err
}

// layerOption returns the Option passing opt on to layer.New, failing at
// once as opt would there.
func layerOption(opt layer.Option) Option {
	return func(o *options) error {
		if _, err := layer.New("", nil, opt); err != nil {
			return err
		}
		o.layer = append(o.layer, opt)
		return nil
	}
}

// WithBuckets sets the number of layers public modules are spread over, by
// a stable hash of their path. The default is [DefaultBuckets].
func WithBuckets(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 100 {
			return fmt.Errorf("buckets: %d is out of range 1-100", n)
		}
		o.buckets = n
		return nil
	}
}

// WithContents sets what goes into the layers, [ContentsFull] or
// [ContentsZips]. The default is [DefaultContents].
func WithContents(c string) Option {
	return func(o *options) error {
		if c != ContentsFull && c != ContentsZips {
			return fmt.Errorf("contents %q: want %q or %q", c, ContentsFull, ContentsZips)
		}
		o.contents = c
		return nil
	}
}

// WithCompression sets the compression of the layers, [Gzip] or [Zstd].
// The default is [Gzip], which every registry and runtime reads.
func WithCompression(c string) Option {
	return layerOption(layer.WithCompression(compression.Compression(c)))
}

// WithCompressionLevel sets the compression level: for gzip 1-9, for zstd
// 1-4 (fastest, default, better, best). The default is gzip's 6 and zstd's
// default (about zstd -3).
func WithCompressionLevel(level int) Option {
	return layerOption(layer.WithLevel(level))
}

// WithEpoch sets the modification time of every entry. The default is
// SOURCE_DATE_EPOCH when set, else the Unix epoch.
func WithEpoch(t time.Time) Option {
	return layerOption(layer.WithEpoch(t))
}

// WithPrivate sets the GOPRIVATE-style patterns of modules that go into the
// private layer. The default is the GOPRIVATE the modules were downloaded
// with (modload.Result.GoPrivate).
func WithPrivate(patterns string) Option {
	return func(o *options) error { o.private = patterns; return nil }
}

// WithConcurrency sets how many goroutines compress a layer. It does not
// change the bytes. The default is GOMAXPROCS for gzip and 1 for zstd,
// whose layers Pack and the registry's Prepush already compress GOMAXPROCS
// at a time.
func WithConcurrency(n int) Option {
	return layerOption(layer.WithConcurrency(n))
}

// WithSpoolDir keeps each layer's compressed bytes in a temporary file in
// dir, written by the one pass that computes its digests, so that the upload
// reads the file instead of compressing again. It costs disk, the compressed
// size, never memory; the files go with dir. The default is "": nothing is
// kept and every read of Compressed compresses anew.
func WithSpoolDir(dir string) Option {
	return layerOption(layer.WithSpoolDir(dir))
}
