package cli

import (
	"context"
	"errors"
	"fmt"
	stdio "io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/buildcache"
	"github.com/cachecheck/cachecheck/internal/modtree"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/shard"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/cachecheck/cachecheck/reports"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"mvdan.cc/sh/v3/syntax"
)

// defaultJobs is how many modules warm --all warms at once.
const defaultJobs = 2

// defaultMaxShards is the most shards warm --all --plan asks for.
const defaultMaxShards = 8

func (o *warmOptions) validateAll() error {
	if o.jobs < 1 {
		return usageErrorf("warm: --jobs %d: want at least 1", o.jobs)
	}
	if o.jobsSet() && !o.all {
		return usageErrorf("warm: --jobs applies to --all only; add --all to warm every module under the directory")
	}
	var modes []string
	if o.shardFlag != "" {
		modes = append(modes, "--shard")
		s, err := shard.ParseSpec(o.shardFlag)
		if err != nil {
			return usageErrorf("warm: --shard %v", err)
		}
		o.shard = &s
	}
	if o.plan {
		modes = append(modes, "--plan")
	}
	if o.check {
		modes = append(modes, "--check")
	}
	switch {
	case len(modes) > 1:
		return usageErrorf("warm: %s: give one of them", strings.Join(modes, " and "))
	case len(modes) == 1 && !o.all:
		return usageErrorf("warm: %s applies to --all: add --all", modes[0])
	case len(modes) == 1 && o.to == "":
		return usageErrorf("warm: %s: the jobs of a CI matrix share the target; give it with --to (a registry repository)", modes[0])
	case (o.plan || o.check) && o.force:
		return usageErrorf("warm: --force rebuilds images; %s builds none", modes[0])
	case o.maxShardsSet() && !o.plan:
		return usageErrorf("warm: --max-shards applies to --plan")
	case o.maxShards < 1:
		return usageErrorf("warm: --max-shards %d: want at least 1", o.maxShards)
	}
	if o.plan && o.format.String() == "markdown" {
		return usageErrorf("warm: --plan prints text or json (the CI matrix), not markdown")
	}
	return nil
}

// unit is a module or workspace of warm --all, with its key.
type unit struct {
	modtree.Unit
	dir    string // the directory: root joined with Dir
	key    *cachekey.Result
	keyErr error
	// group is the unit of the same key (and build settings) the image
	// is warmed with; the unit itself when it leads its group.
	group *unit
}

// units finds the modules and workspaces under root and computes their
// keys. With a shared target (--to), units of the same key and build
// settings are grouped: one warm publishes the image of them all.
func (o *warmOptions) units(root string) ([]*unit, error) {
	found, err := modtree.Find(root)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("no Go module or workspace under %s (vendor, testdata and directories starting with . or _ are skipped)", root)
	}
	leaders := map[string]*unit{}
	var us []*unit
	for _, f := range found {
		u := &unit{Unit: f, dir: filepath.Join(root, filepath.FromSlash(f.Dir))}
		u.group = u
		u.key, u.keyErr = cachekey.ComputeDir(u.dir)
		us = append(us, u)
		if u.keyErr != nil || o.to == "" {
			continue
		}
		id := u.key.Key.String()
		if o.buildCache.enabled {
			bcf := o.buildCache
			s, err := bcf.settings(u.dir, nil, stdio.Discard)
			if err != nil {
				continue // its warm says why
			}
			id += " " + s.Digest()
		}
		if l, ok := leaders[id]; ok {
			u.group = l
		} else {
			leaders[id] = u
		}
	}
	return us, nil
}

// runAll warms every module and workspace under root, o.jobs at a time,
// goes on past failures, prints the summary, and fails when any failed.
// With --shard I/N it warms only the units of shard I; --plan and --check
// warm nothing.
//
// A module a workspace under root uses is warmed through that workspace
// (its deps image is the workspace's), not on its own: the nightly job
// then publishes what the builds of the workspace start from. Each unit
// goes to --to, or to the OCI layout .cachecheck/oci in its own directory
// (where 'cachecheck ref' run there looks).
func (o *warmOptions) runAll(ctx context.Context, io IO, root string) error {
	start := time.Now()
	us, err := o.units(root)
	if err != nil {
		return err
	}
	switch {
	case o.plan:
		return o.runPlan(ctx, io, root, us)
	case o.check:
		return o.runCheck(ctx, io, root, us)
	}
	doc := &reports.WarmAll{Root: root, Jobs: o.jobs}
	if o.shard != nil {
		doc.Shard = o.shard.String()
		target, err := targetFor(o.to, root, o.registry.options()...)
		if err != nil {
			return err
		}
		split, _, err := o.split(ctx, target, us, o.shard.N)
		if err != nil {
			return err
		}
		var mine []*unit
		for _, u := range us {
			if split[u.group] == o.shard.I-1 {
				mine = append(mine, u)
			}
		}
		us = mine
		if !o.quiet {
			fmt.Fprintf(io.Err, "cachecheck: shard %s: %d of the units under %s\n", o.shard, len(us), root)
		}
	}
	warmDir := o.warmFunc
	if warmDir == nil {
		warmDir = func(ctx context.Context, dir string) (*reports.Warm, error) {
			return o.warm(ctx, dir, &progress{}, io.Err)
		}
	}
	var mu sync.Mutex // guards io.Err
	sem := make(chan struct{}, o.jobs)
	var wg sync.WaitGroup
	byUnit := map[*unit]*reports.WarmUnit{}
	for _, u := range us {
		au := &reports.WarmUnit{Dir: u.Dir, Workspace: u.Workspace}
		if u.keyErr == nil {
			au.Key, au.Modules = u.key.Key, warm.MainModules(u.key)
		}
		doc.Units = append(doc.Units, au)
		byUnit[u] = au
		if u.group != u {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t := time.Now()
			sum, err := warmDir(ctx, u.dir)
			au.Seconds = time.Since(t).Seconds()
			switch {
			case err != nil:
				au.Result, au.Error = "failed", err.Error()
			case sum.Hit:
				au.Result, au.Warm = "hit", sum
			default:
				au.Result, au.Warm = "built", sum
			}
			if o.quiet && err == nil { // -q hides progress, never a failure
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
	for _, u := range us {
		au := byUnit[u]
		if u.group != u {
			// Its leader is in the same shard: the group is placed whole.
			lead := byUnit[u.group]
			au.Result, au.SameKeyAs, au.Error = "same key", u.group.Dir, lead.Error
			if lead.Warm != nil {
				w := *lead.Warm
				w.Hit = true
				au.Warm = &w
			}
		}
		switch au.Result {
		case "hit", "same key":
			if au.Error == "" {
				doc.Hit++
				break
			}
			fallthrough
		case "failed":
			doc.Failed++
			failed = append(failed, u.Dir)
		default:
			doc.Built++
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

// split places the groups of us on n shards (see package shard), weighed
// by the size of their last published image in target, and returns each
// group leader's shard (0 to n-1) and the weights.
func (o *warmOptions) split(ctx context.Context, target publish.Target, us []*unit, n int) (map[*unit]int, map[*unit]weight, error) {
	var leads []*unit
	var sizeOf []warm.SizeOf
	for _, u := range us {
		if u.group != u {
			continue
		}
		leads = append(leads, u)
		if u.keyErr == nil {
			tag := publish.NewTag(u.key.Key, nil, o.contents.String())
			if o.buildCache.enabled {
				tag.BuildCache = "bc"
			}
			sizeOf = append(sizeOf, warm.SizeOf{Key: u.key, Tag: tag})
		}
	}
	sizes, err := warm.PublishedSizes(ctx, target, sizeOf)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the published sizes in %s: %w", target, err)
	}
	ws, perModule := warm.Weights(sizeOf, sizes)
	items := make([]shard.Item, len(leads))
	weights := map[*unit]weight{}
	j := 0
	for i, u := range leads {
		items[i] = shard.Item{Name: u.Dir, Weight: 1}
		if u.keyErr == nil {
			items[i].Weight = ws[j]
			w := weight{value: ws[j], from: sizes[j].Tag}
			switch {
			case w.from != "":
			case perModule > 0:
				w.from = fmt.Sprintf("modules × %s", reports.ByteSize(int64(perModule)))
			default:
				w.from = "modules"
			}
			weights[u] = w
			j++
		}
	}
	assigned := shard.Assign(items, n)
	out := map[*unit]int{}
	for i, u := range leads {
		out[u] = assigned[i]
	}
	return out, weights, nil
}

// weight is what the split weighs a unit by, and where it comes from:
// the tag of its last published image, "modules × N B" (its module count
// times the mean bytes per module of the others) or "modules" (its module
// count, nothing being published).
type weight struct {
	value float64
	from  string
}

// resolveBase resolves --base once for the lookups of --plan and --check.
func (o *warmOptions) resolveBase(ctx context.Context) (publish.Artifact, *v1.Hash, error) {
	if o.base == "" {
		return nil, nil, nil
	}
	a, d, err := publish.ResolveBase(ctx, o.base, o.registry.options()...)
	if err != nil {
		return nil, nil, err
	}
	return a, &d, nil
}

// tagOf returns the tag warm publishes u's image under.
func (o *warmOptions) tagOf(u *unit, base publish.Artifact, baseDigest *v1.Hash) (publish.Tag, error) {
	var s *buildcache.Settings
	if o.buildCache.enabled {
		bcf := o.buildCache
		var err error
		if s, err = bcf.settings(u.dir, base, stdio.Discard); err != nil {
			return publish.Tag{}, err
		}
	}
	return warm.TagFor(u.key.Key, base, baseDigest, o.contents.String(), s, o.buildCache.platforms)
}

// looked is what the lookup of one unit's image in the target found.
type looked struct {
	u *unit
	// err is why the unit has no tag: its key or build-cache settings
	// could not be computed.
	err  error
	tag  publish.Tag
	desc *v1.Descriptor
	// lookupErr is the target's answer when it had no image (wrapping
	// publish.ErrNotFound) or failed.
	lookupErr error
}

// lookupUnits resolves the target and --base once, then looks up the tag
// of every unit's image in the target: the common part of --plan and
// --check.
func (o *warmOptions) lookupUnits(ctx context.Context, root string, us []*unit) (publish.Target, []looked, error) {
	target, err := targetFor(o.to, root, o.registry.options()...)
	if err != nil {
		return nil, nil, err
	}
	base, baseDigest, err := o.resolveBase(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]looked, len(us))
	for i, u := range us {
		l := &out[i]
		l.u = u
		if u.keyErr != nil {
			l.err = u.keyErr
			continue
		}
		if l.tag, l.err = o.tagOf(u, base, baseDigest); l.err != nil {
			continue
		}
		l.desc, l.lookupErr = target.Lookup(ctx, l.tag.String())
	}
	return target, out, nil
}

// runPlan prints how many shards the matrix needs and which shard warms
// each unit: as many as there are units whose key is not published (one
// at least, so that the matrix is never empty), at most --max-shards.
func (o *warmOptions) runPlan(ctx context.Context, io IO, root string, us []*unit) error {
	target, found, err := o.lookupUnits(ctx, root, us)
	if err != nil {
		return err
	}
	plan := &reports.WarmPlan{Root: root, Target: target.String()}
	byUnit := map[*unit]*reports.PlanUnit{}
	for _, l := range found {
		u := l.u
		pu := &reports.PlanUnit{Dir: u.Dir}
		byUnit[u] = pu
		plan.Units = append(plan.Units, pu)
		if u.keyErr == nil {
			pu.Key, pu.Modules = u.key.Key, warm.MainModules(u.key)
		}
		if l.err != nil {
			pu.Error = l.err.Error()
			continue
		}
		pu.Tag = l.tag.String()
		switch {
		case l.lookupErr == nil:
			pu.Published = true
		case !errors.Is(l.lookupErr, publish.ErrNotFound):
			return fmt.Errorf("looking up %s in %s: %w", pu.Tag, target, l.lookupErr)
		}
		if !pu.Published && u.group == u {
			plan.ToWarm++
		}
	}
	plan.Shards = min(max(plan.ToWarm, 1), o.maxShards)
	split, weights, err := o.split(ctx, target, us, plan.Shards)
	if err != nil {
		return err
	}
	for _, u := range us {
		pu := byUnit[u]
		if u.group != u {
			pu.SameKeyAs = u.group.Dir
			continue
		}
		pu.Shard = fmt.Sprintf("%d/%d", split[u]+1, plan.Shards)
		w := weights[u]
		pu.Weight, pu.WeightFrom = int64(w.value), w.from
	}
	if o.format.String() == "json" {
		return plan.WriteMatrix(io.Out)
	}
	return plan.WriteText(io.Out)
}

// runCheck looks up the image of every unit's key in the target, prints
// what it found, and fails when any is missing, saying what to run.
func (o *warmOptions) runCheck(ctx context.Context, io IO, root string, us []*unit) error {
	target, found, err := o.lookupUnits(ctx, root, us)
	if err != nil {
		return err
	}
	doc := &reports.WarmCheck{Root: root, Target: target.String()}
	var missing []string
	for _, l := range found {
		u := l.u
		cu := &reports.CheckUnit{Dir: u.Dir, Result: "failed"}
		doc.Units = append(doc.Units, cu)
		if u.keyErr == nil {
			cu.Key, cu.Modules = u.key.Key, warm.MainModules(u.key)
		}
		if l.err != nil {
			cu.Error = l.err.Error()
			missing = append(missing, u.Dir)
			continue
		}
		cu.Tag = l.tag.String()
		switch err := l.lookupErr; {
		case err == nil:
			cu.Result, cu.Ref = "present", target.Ref(cu.Tag, *l.desc)
			doc.Present++
			continue
		case errors.Is(err, publish.ErrNotFound):
			cu.Result, cu.Error = "missing", "no image "+cu.Tag
			var inc *publish.IncompleteError
			if errors.As(err, &inc) {
				cu.Error = err.Error()
			}
		default:
			cu.Error = fmt.Sprintf("looking up %s: %v", cu.Tag, err)
		}
		missing = append(missing, u.Dir)
	}
	doc.Missing = len(missing)
	if err := reports.Write(io.Out, reports.Format(o.format.String()), doc); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("warm --all --check: %d of %d units have no image in %s: %s; run '%s' to warm them",
			len(missing), len(us), target, strings.Join(missing, ", "), o.warmAllCommand(root))
	}
	return nil
}

// warmAllCommand is the warm --all command line that publishes what
// --check found missing: the same target, base, contents and build cache
// flags, each word quoted for the shell as it needs.
func (o *warmOptions) warmAllCommand(root string) string {
	args := []string{"cachecheck", "warm", "--all", "--to", o.to}
	if o.base != "" {
		args = append(args, "--base", o.base)
	}
	if c := o.contents.String(); c != "full" {
		args = append(args, "--contents", c)
	}
	if f := o.buildCache; f.enabled {
		args = append(args, "--build-cache")
		if f.dockerfile != "" {
			args = append(args, "--dockerfile", f.dockerfile)
		}
		if f.buildFlags != "" {
			args = append(args, "--build-flags", f.buildFlags)
		}
		if len(f.platforms) > 0 {
			args = append(args, "--platform", strings.Join(f.platforms, ","))
		}
	}
	if o.registry.insecure {
		args = append(args, "--insecure")
	}
	args = append(args, root)
	for i, a := range args {
		if q, err := syntax.Quote(a, syntax.LangBash); err == nil {
			args[i] = q
		}
	}
	return strings.Join(args, " ")
}

// printAll writes what warm --all did in the --format asked; with -q,
// the text is a "DIR REF" line per unit warmed.
func (o *warmOptions) printAll(io IO, doc *reports.WarmAll) error {
	doc.Quiet = o.quiet
	return reports.Write(io.Out, reports.Format(o.format.String()), doc)
}
