package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/reports"
)

// TestWarmAllJobs checks that warm --all runs at most --jobs warms at once,
// reaches that many, goes on past a failure and reports every unit.
func TestWarmAllJobs(t *testing.T) {
	root := t.TempDir()
	for i := 0; i < 6; i++ {
		dir := filepath.Join(root, fmt.Sprintf("m%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		gomod := fmt.Sprintf("module example.com/m%d\n\ngo 1.21\n", i)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, jobs := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("jobs=", jobs), func(t *testing.T) {
			var mu sync.Mutex
			running, peak, calls := 0, 0, 0
			o := &warmOptions{format: newEnum("text", "text", "json"), all: true, jobs: jobs, jobsSet: func() bool { return true }}
			o.warmFunc = func(ctx context.Context, dir string) (*reports.Warm, error) {
				mu.Lock()
				running++
				calls++
				peak = max(peak, running)
				mu.Unlock()
				time.Sleep(30 * time.Millisecond)
				mu.Lock()
				running--
				mu.Unlock()
				if filepath.Base(dir) == "m3" {
					return nil, errors.New("m3 is broken")
				}
				return &reports.Warm{Tag: "ck1-x", Modules: 2}, nil
			}
			var stdout, stderr bytes.Buffer
			err := o.runAll(context.Background(), IO{Out: &stdout, Err: &stderr}, root)
			if err == nil || !strings.Contains(err.Error(), "1 of 6 failed: m3") {
				t.Errorf("runAll = %v, want 1 of 6 failed: m3", err)
			}
			if calls != 6 || peak != jobs {
				t.Errorf("%d warms, at most %d at once; want 6, %d", calls, peak, jobs)
			}
			if !strings.Contains(stdout.String(), "5 built, 0 hit, 1 failed in ") {
				t.Errorf("summary:\n%s", stdout.String())
			}
			if !strings.Contains(stderr.String(), "cachecheck: warm m3: m3 is broken") {
				t.Errorf("stderr:\n%s", stderr.String())
			}
		})
	}
}
