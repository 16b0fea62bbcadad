package analyzer

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// hostileDockerfiles are Dockerfiles a pull request could carry to exhaust
// the analyzer: exponential and quadratic ARG expansion, and files of about
// 1 MB or 20,000 lines. wantErr is a regular-expression-free prefix of the
// error, "" for a Dockerfile that must analyze.
var hostileDockerfiles = []struct {
	name    string
	text    func() string
	wantErr string
}{
	{"doubling ARG", func() string {
		return "FROM golang:1.22\nARG A=x\n" + strings.Repeat("ARG A=${A}${A}\n", 26) + "RUN echo $A\n"
	}, `Dockerfile:22: expanding "${A}${A}" could make 1048584 bytes, over the limit of 1 MiB`},
	{"doubling meta ARG", func() string {
		return "ARG A=x\n" + strings.Repeat("ARG A=${A}${A}\n", 40) + "FROM golang:1.22\n"
	}, `Dockerfile:21: expanding "${A}${A}" could make`},
	{"doubling ENV", func() string {
		return "FROM golang:1.22\nENV A=x\n" + strings.Repeat("ENV A=${A}${A}${A}${A}\n", 30) + "RUN echo $A\n"
	}, `Dockerfile:12: expanding "${A}${A}${A}${A}" could make`},
	{"quadratic replace", func() string {
		return "FROM golang:1.22\nARG A=" + strings.Repeat("x", 8000) + "\nARG B=${A//?/${A}}\n"
	}, `Dockerfile:3: expanding "${A//?/${A}}" could make`},
	{"many pattern trims", func() string {
		return "FROM golang:1.22\nARG A=" + strings.Repeat("x", 8000) + "\n" + strings.Repeat("ARG B=${A%%*y}\n", 20000)
	}, "Dockerfile:"},
	{"big value referenced often", func() string {
		return "FROM golang:1.22\nARG A=" + strings.Repeat("x", 60000) + "\n" + strings.Repeat("ARG B=$A\n", 20000)
	}, "Dockerfile:"},
	{"20,000 ARG lines", func() string {
		var b strings.Builder
		b.WriteString("FROM golang:1.22\n")
		for i := range 20000 {
			fmt.Fprintf(&b, "ARG A%d=%d\n", i, i)
		}
		return b.String()
	}, "Dockerfile:"},
	{"one ARG of 20,000 variables, then 20,000 RUNs", func() string {
		var b strings.Builder
		b.WriteString("FROM golang:1.22\n")
		for i := range 20000 {
			if i%2000 == 0 {
				b.WriteString("\nARG")
			}
			fmt.Fprintf(&b, " A%d=%d", i, i)
		}
		b.WriteString("\n")
		for i := range 20000 {
			fmt.Fprintf(&b, "RUN echo $A%d\n", i)
		}
		return b.String()
	}, ""},
	{"20,000 RUN and COPY lines", func() string {
		var b strings.Builder
		b.WriteString("FROM golang:1.22 AS build\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n")
		for i := range 10000 {
			fmt.Fprintf(&b, "COPY p%d/ p%d/\nRUN go build ./p%d\n", i, i, i)
		}
		b.WriteString("FROM scratch\nCOPY --from=build /app /app\n")
		return b.String()
	}, ""},
	{"5,000 stages", func() string {
		var b strings.Builder
		b.WriteString("FROM golang:1.22 AS s0\n")
		for i := 1; i < 5000; i++ {
			fmt.Fprintf(&b, "FROM s%d AS s%d\nRUN go build ./...\n", i-1, i)
		}
		return b.String()
	}, ""},
	{"1 MB of short RUN lines", func() string {
		return "FROM golang:1.22\n" + strings.Repeat("RUN a\n", 170000)
	}, "Dockerfile:25001: more than 25000 instructions (170001)"},
	{"1 MB of short COPY lines", func() string {
		return "FROM golang:1.22\n" + strings.Repeat("COPY a b\n", 110000)
	}, "Dockerfile:25001: more than 25000 instructions"},
	{"25,000 short RUN lines", func() string {
		return "FROM golang:1.22\n" + strings.Repeat("RUN a\n", 24999)
	}, ""},
	{"1 MB of 60 KB RUN lines", func() string {
		return "FROM golang:1.22\n" + strings.Repeat("RUN go build "+strings.Repeat("./x ", 15000)+"\n", 16)
	}, ""},
}

// TestHostileDockerfileMemory analyzes each hostile Dockerfile and fails when
// the heap peaks over 100 MB (sampled every millisecond, with the GC
// running at its default pace), when it allocates over 1 GB in total (the
// work), or when it takes over 20 seconds.
func TestHostileDockerfileMemory(t *testing.T) {
	const maxHeap, maxAlloc = 100 << 20, 1 << 30
	for _, tt := range hostileDockerfiles {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text()
			if len(text) > 1<<20 {
				t.Fatalf("test Dockerfile is %d bytes, want at most 1 MB", len(text))
			}
			fsys := fstest.MapFS{
				"Dockerfile": {Data: []byte(text)},
				"go.mod":     {Data: []byte("module example.com/app\n\ngo 1.22\n")},
				"go.sum":     {Data: []byte{}},
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			stop, peak := sampleHeap()
			start := time.Now()
			b, err := Load(fsys)
			if err == nil {
				_, err = Analyze(b)
			}
			elapsed := time.Since(start)
			heap := peak()
			close(stop)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: heap peak %.1f MB, allocated %.1f MB in %v", len(text), float64(heap)/(1<<20), float64(alloc)/(1<<20), elapsed)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Load+Analyze: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Load+Analyze succeeded, want an error starting %q", tt.wantErr)
			case tt.wantErr != "" && !strings.HasPrefix(err.Error(), tt.wantErr):
				t.Fatalf("error %q, want it to start %q", err, tt.wantErr)
			}
			if heap > maxHeap {
				t.Errorf("heap peaked at %d MB, want at most %d MB", heap>>20, maxHeap>>20)
			}
			if alloc > maxAlloc {
				t.Errorf("allocated %d MB, want at most %d MB", alloc>>20, maxAlloc>>20)
			}
			if elapsed > 20*time.Second {
				t.Errorf("took %v, want under 20s", elapsed)
			}
		})
	}
}

// sampleHeap samples the bytes of heap objects every millisecond until
// stop is closed; peak returns the largest sample so far.
func sampleHeap() (stop chan struct{}, peak func() uint64) {
	stop = make(chan struct{})
	var mu sync.Mutex
	var max uint64
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		max = maxOf(max, sample[0].Value.Uint64())
		mu.Unlock()
	}
	read()
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return stop, func() uint64 {
		read()
		mu.Lock()
		defer mu.Unlock()
		return max
	}
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
