package depsimage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modload"
)

// benchResult reads the module cache named by DEPSIMAGE_BENCH_CACHE, filled
// by `go mod download` in the module DEPSIMAGE_BENCH_DIR (bench.sh sets
// both), without the network.
func benchResult(b testing.TB) (*modload.Result, *modload.Verified) {
	dir, cache := os.Getenv("DEPSIMAGE_BENCH_DIR"), os.Getenv("DEPSIMAGE_BENCH_CACHE")
	if dir == "" || cache == "" {
		b.Skip("DEPSIMAGE_BENCH_DIR and DEPSIMAGE_BENCH_CACHE are not set: run internal/depsimage/bench.sh")
	}
	cmd := exec.Command("go", "mod", "download", "-json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOMODCACHE="+cache, "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("go mod download -json (offline) in %s: %v", dir, err)
	}
	res := &modload.Result{GoModCache: cache}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m modload.Module
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			b.Fatal(err)
		}
		res.Modules = append(res.Modules, m)
	}
	ver, err := modload.Verify(context.Background(), dir, res, modload.TreesWhenRead())
	if err != nil {
		b.Fatal(err)
	}
	return res, ver
}

// benchOptions reads the packing options from DEPSIMAGE_BENCH_OPTS, such as
// "compression=zstd contents=full buckets=16".
func benchOptions(b testing.TB) []depsimage.Option {
	var opts []depsimage.Option
	for _, f := range strings.Fields(os.Getenv("DEPSIMAGE_BENCH_OPTS")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "compression":
			opts = append(opts, depsimage.WithCompression(v))
		case "contents":
			opts = append(opts, depsimage.WithContents(v))
		case "level":
			n, _ := strconv.Atoi(v)
			opts = append(opts, depsimage.WithCompressionLevel(n))
		case "concurrency":
			n, _ := strconv.Atoi(v)
			opts = append(opts, depsimage.WithConcurrency(n))
		case "buckets":
			n, _ := strconv.Atoi(v)
			opts = append(opts, depsimage.WithBuckets(n))
		default:
			b.Fatalf("DEPSIMAGE_BENCH_OPTS: unknown %q", f)
		}
	}
	return opts
}

// BenchmarkPack packs the module cache into layers and computes their
// digests: the packing cost of a warm without the upload. It prints one
// line "depsbench: pack seconds=S raw=R compressed=C layers=L heap=H" for
// bench.sh, H being the peak Go heap in use seen by a sampler.
func BenchmarkPack(b *testing.B) {
	res, ver := benchResult(b)
	opts := benchOptions(b)
	for i := 0; i < b.N; i++ {
		stop := make(chan struct{})
		peak := make(chan uint64)
		go samplePeak(stop, peak)
		start := time.Now()
		ls, err := depsimage.Layers(res, ver, opts...)
		if err != nil {
			b.Fatal(err)
		}
		size, err := depsimage.Pack(ls)
		if err != nil {
			b.Fatal(err)
		}
		secs := time.Since(start).Seconds()
		close(stop)
		var raw int64
		for _, l := range ls {
			raw += l.RawSize
		}
		fmt.Printf("depsbench: pack seconds=%.2f raw=%d compressed=%d layers=%d heap=%d\n", secs, raw, size, len(ls), <-peak)
		b.SetBytes(raw)
	}
}

// BenchmarkBuckets prints, for the bucket counts in DEPSIMAGE_BENCH_BUCKETS
// (default "1 2 4 8 16 32 64"), the compressed bytes a registry receives
// again when one module is bumped, averaged over all modules (the size of the
// layer holding it), and the largest such figure.
func BenchmarkBuckets(b *testing.B) {
	res, ver := benchResult(b)
	opts := benchOptions(b)
	counts := strings.Fields(os.Getenv("DEPSIMAGE_BENCH_BUCKETS"))
	if len(counts) == 0 {
		counts = strings.Fields("1 2 4 8 16 32 64")
	}
	for i := 0; i < b.N; i++ {
		for _, c := range counts {
			n, _ := strconv.Atoi(c)
			ls, err := depsimage.Layers(res, ver, append(opts, depsimage.WithBuckets(n))...)
			if err != nil {
				b.Fatal(err)
			}
			total, err := depsimage.Pack(ls)
			if err != nil {
				b.Fatal(err)
			}
			var sum, max int64
			mods := 0
			for _, l := range ls {
				s, _ := l.Size()
				for range l.Modules {
					sum += s
					mods++
				}
				max = maxInt(max, s)
			}
			fmt.Printf("depsbench: buckets n=%d layers=%d total=%d bump-avg=%d bump-max=%d modules=%d\n", n, len(ls), total, sum/int64(mods), max, mods)
		}
	}
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// samplePeak sends the largest heap in use seen every 10ms until stop closes.
func samplePeak(stop chan struct{}, peak chan uint64) {
	var max uint64
	var ms runtime.MemStats
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			peak <- max
			return
		case <-t.C:
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > max {
				max = ms.HeapInuse
			}
		}
	}
}
