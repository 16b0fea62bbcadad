package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
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

// TestWarmAllShards checks that the shards of a matrix, each computing the
// split on its own, warm every key exactly once between them, and that
// units of the same key are warmed once, by the shard of the first.
func TestWarmAllShards(t *testing.T) {
	root := t.TempDir()
	const units = 23
	for i := 0; i < units; i++ {
		dir := filepath.Join(root, "svc", fmt.Sprintf("m%02d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		// m20 to m22 are copies of m00 to m02 (the same module path,
		// so the same key).
		gomod := fmt.Sprintf("module example.com/m%02d\n\ngo 1.21\n", i%20)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	to := "oci:" + filepath.Join(t.TempDir(), "layout")
	var mu sync.Mutex
	warmed := map[string][]string{} // dir → shards that warmed it
	docs := map[string]*reports.WarmAll{}
	for _, n := range []int{1, 3, 4} {
		for i := 1; i <= n; i++ {
			spec := fmt.Sprintf("%d/%d", i, n)
			args := []string{"warm", "--all", "--shard", spec, "--to", to, "--format", "json", root}
			o, err := parseWarm(args)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			o.warmFunc = func(ctx context.Context, dir string) (*reports.Warm, error) {
				mu.Lock()
				defer mu.Unlock()
				rel, _ := filepath.Rel(root, dir)
				warmed[fmt.Sprint(n, rel)] = append(warmed[fmt.Sprint(n, rel)], spec)
				k, err := cachekey.ComputeDir(dir)
				if err != nil {
					return nil, err
				}
				return &reports.Warm{Key: k.Key, Tag: "ck1-x", Modules: 2}, nil
			}
			var stdout, stderr bytes.Buffer
			if err := o.runAll(context.Background(), IO{Out: &stdout, Err: &stderr}, root); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, stderr.String())
			}
			doc, err := reports.Read(&stdout)
			if err != nil {
				t.Fatal(err)
			}
			docs[spec] = doc.(*reports.WarmAll)
		}
		total := 0
		for i := 0; i < units; i++ {
			rel := filepath.Join("svc", fmt.Sprintf("m%02d", i))
			by := warmed[fmt.Sprint(n, rel)]
			switch {
			case i >= 20 && len(by) != 0:
				t.Errorf("%d shards: %s warmed by %v, though it has the key of m%02d", n, rel, by, i-20)
			case i < 20 && len(by) != 1:
				t.Errorf("%d shards: %s warmed by %v; want exactly one shard", n, rel, by)
			}
			total += len(by)
		}
		if total != 20 {
			t.Errorf("%d shards warmed %d units, want the 20 keys", n, total)
		}
		// The units of a key come with their leader, said so.
		for i := 1; i <= n; i++ {
			for _, u := range docs[fmt.Sprintf("%d/%d", i, n)].Units {
				if strings.HasPrefix(u.Dir, "svc/m2") && (u.Result != "same key" || u.SameKeyAs != "svc/m0"+u.Dir[len(u.Dir)-1:]) {
					t.Errorf("%d shards: %s: result %q, same key as %q; want the same key as its twin", n, u.Dir, u.Result, u.SameKeyAs)
				}
			}
		}
	}
	if n := len(docs["1/4"].Units) + len(docs["2/4"].Units) + len(docs["3/4"].Units) + len(docs["4/4"].Units); n != units {
		t.Errorf("the 4 shards' documents list %d units, want %d", n, units)
	}
}

// parseWarm parses a warm command line into its options, as Run does.
func parseWarm(args []string) (*warmOptions, error) {
	c, o := warmCommand()
	if err := c.flags.Parse(args[1:]); err != nil {
		return nil, err
	}
	return o, c.validate(c.flags.Args())
}

// TestWarmAllCommand: the command warm --all --check suggests is one a
// shell runs as given, with the same flags: the shell reads back each word
// (paths with spaces, build flags with quotes), checked by bash itself.
func TestWarmAllCommand(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	c, o := warmCommand()
	flags := []string{"--all", "--check", "--to", "oci:/tmp/my deps", "--base", "oci:/tmp/base dir:1.26", "--contents", "zips",
		"--build-cache", "--build-flags", `CGO_ENABLED=0 -trimpath -ldflags='-s -w'`, "--platform", "linux/amd64,linux/arm64", "--insecure"}
	if err := c.flags.Parse(flags); err != nil {
		t.Fatal(err)
	}
	root := "/src/it's a repo"
	line := o.warmAllCommand(root)
	out, err := exec.Command(bash, "-c", `printf '%s\n' `+strings.TrimPrefix(line, "cachecheck ")).Output()
	if err != nil {
		t.Fatalf("bash -c %q: %v", line, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{"warm", "--all", "--to", "oci:/tmp/my deps", "--base", "oci:/tmp/base dir:1.26", "--contents", "zips",
		"--build-cache", "--build-flags", `CGO_ENABLED=0 -trimpath -ldflags='-s -w'`, "--platform", "linux/amd64,linux/arm64", "--insecure", root}
	if !slices.Equal(got, want) {
		t.Errorf("warmAllCommand = %s\nthe shell reads %q\nwant %q", line, got, want)
	}
}
