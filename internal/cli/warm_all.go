package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/modtree"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/cachecheck/cachecheck/reports"
)

// defaultJobs is how many modules warm --all warms at once.
const defaultJobs = 2

func (o *warmOptions) validateAll() error {
	if o.jobs < 1 {
		return usageErrorf("warm: --jobs %d: want at least 1", o.jobs)
	}
	if o.jobsSet() && !o.all {
		return usageErrorf("warm: --jobs applies to --all only; add --all to warm every module under the directory")
	}
	return nil
}

// runAll warms every module and workspace under root, o.jobs at a time,
// goes on past failures, prints the summary, and fails when any failed.
//
// A module a workspace under root uses is warmed through that workspace
// (its deps image is the workspace's), not on its own: the nightly job
// then publishes what the builds of the workspace start from. Each unit
// goes to --to, or to the OCI layout .cachecheck/oci in its own directory
// (where 'cachecheck ref' run there looks).
func (o *warmOptions) runAll(ctx context.Context, io IO, root string) error {
	start := time.Now()
	units, err := modtree.Find(root)
	if err != nil {
		return err
	}
	if len(units) == 0 {
		return fmt.Errorf("no Go module or workspace under %s (vendor, testdata and directories starting with . or _ are skipped)", root)
	}
	warmDir := o.warmFunc
	if warmDir == nil {
		warmDir = func(ctx context.Context, dir string) (*reports.Warm, error) {
			return o.warm(ctx, dir, &progress{}, io.Err)
		}
	}
	doc := &reports.WarmAll{Root: root, Jobs: o.jobs}
	var mu sync.Mutex // guards io.Err
	sem := make(chan struct{}, o.jobs)
	var wg sync.WaitGroup
	for _, u := range units {
		au := &reports.WarmUnit{Dir: u.Dir, Workspace: u.Workspace}
		doc.Units = append(doc.Units, au)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t := time.Now()
			dir := filepath.Join(root, filepath.FromSlash(u.Dir))
			if k, err := cachekey.ComputeDir(dir); err == nil {
				au.Key, au.Modules = k.Key, warm.MainModules(k)
			}
			sum, err := warmDir(ctx, dir)
			au.Seconds = time.Since(t).Seconds()
			switch {
			case err != nil:
				au.Result, au.Error = "failed", err.Error()
			case sum.Hit:
				au.Result, au.Warm = "hit", sum
			default:
				au.Result, au.Warm = "built", sum
			}
			if o.quiet {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintf(io.Err, "cachecheck: warm %s: %v\n", u.Dir, err)
			} else {
				fmt.Fprintf(io.Err, "cachecheck: warm %s: %s %s (%.1f s)\n", u.Dir, au.Result, sum.Tag, au.Seconds)
			}
		}()
	}
	wg.Wait()
	var failed []string
	for _, u := range doc.Units {
		switch u.Result {
		case "hit":
			doc.Hit++
		case "built":
			doc.Built++
		default:
			doc.Failed++
			failed = append(failed, u.Dir)
		}
	}
	doc.Seconds = time.Since(start).Seconds()
	if err := o.printAll(io, doc); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("warm --all: %d of %d failed: %s", len(failed), len(doc.Units), strings.Join(failed, ", "))
	}
	return nil
}

// printAll writes what warm --all did in the --format asked; with -q,
// the text is a "DIR REF" line per unit warmed.
func (o *warmOptions) printAll(io IO, doc *reports.WarmAll) error {
	doc.Quiet = o.quiet
	return reports.Write(io.Out, reports.Format(o.format.String()), doc)
}
