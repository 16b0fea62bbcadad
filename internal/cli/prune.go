package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/modtree"
	"github.com/cachecheck/cachecheck/internal/prune"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/reports"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"
)

type pruneOptions struct {
	to          string
	keep        int
	olderThan   ageValue
	protect     []string
	protectTree []string
	dryRun      bool
	gc          bool
	registry    registryFlags
	format      *enumValue
	now         func() time.Time
	changed     func(name string) bool
}

// ageValue is a --older-than duration: "30d", "36h", "1d12h".
type ageValue struct{ d time.Duration }

func (a *ageValue) String() string { return prune.FormatAge(a.d) }
func (a *ageValue) Type() string   { return "duration" }
func (a *ageValue) Set(s string) error {
	d, err := prune.ParseAge(s)
	if err != nil {
		return err
	}
	a.d = d
	return nil
}

func newPruneCommand() *command {
	o := &pruneOptions{
		olderThan: ageValue{30 * 24 * time.Hour},
		format:    newEnum("text", "text", "json"),
		now:       time.Now,
	}
	fs := pflag.NewFlagSet("prune", pflag.ContinueOnError)
	fs.StringVar(&o.to, "to", "", "prune `TARGET`: the registry repository (HOST/PATH) or oci:DIR warm publishes to (required)")
	fs.IntVar(&o.keep, "keep", 3, "keep the `N` newest deps images of each module, whatever their age")
	fs.Var(&o.olderThan, "older-than", "remove only images published longer ago than `DURATION` (30d, 36h, 1d12h)")
	fs.StringArrayVar(&o.protect, "protect", nil, "never remove the images of `KEY` (ck1-…, or a tag ck1-…-…); repeatable")
	fs.StringArrayVar(&o.protectTree, "protect-tree", nil, "never remove the images of the current keys of every module and workspace under `DIR`; repeatable")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be removed; remove nothing")
	fs.BoolVar(&o.gc, "gc", false, "collect the garbage of an OCI layout instead: the blobs no tag needs and the temporary files of killed writes (see below)")
	o.registry.register(fs, "allow plain HTTP and unverified TLS for the registry")
	fs.Var(o.format, "format", "output format: text or json")
	o.changed = fs.Changed
	return &command{
		name:    "prune",
		summary: "delete the deps images no branch needs any more",
		usage:   "--to TARGET [--keep N] [--older-than DURATION] [--protect KEY ...] [--dry-run]\n  or: cachecheck prune --to oci:DIR --gc [--older-than DURATION] [--dry-run]",
		help: `
Prune deletes from TARGET the deps images that 'cachecheck warm' published
and no branch needs any more. An image is removed when all of these hold:

  - its key is not protected (--protect KEY, or --protect-tree DIR for the
    current keys of every module under DIR, e.g. the main branch's checkout);
  - it is not among the --keep newest images of its module (the module path,
    or a workspace's module paths, the image records); the images of
    'warm --build-cache=all', one a commit on the same deps image, count
    apart: --keep keeps that many commits of each deps image;
  - it was published longer ago than --older-than.

Deps images are reproducible, so their own creation time is fixed; the
publication time comes from the stamp warm writes beside each image (the
tag TAG.stamp, a manifest without layers). An image without a stamp is
kept, and stamped now (unless --dry-run), so that it ages from today.

From a registry, prune deletes the manifests by digest through the registry
API (DELETE /v2/…/manifests/DIGEST); the registry must allow deletes
(distribution: storage.delete.enabled: true), and its garbage collector
reclaims the blobs. From an OCI layout (oci:DIR) it also removes the blobs
no remaining image uses, under the layout's locks: a warm writing to the
layout meanwhile waits, or is waited for.

--gc collects the garbage of an OCI layout instead of pruning images: the
blobs no tag of index.json needs (the old blobs of a tag 'warm --force'
replaced, the blobs of a warm killed before it tagged them) and the
temporary files (.tmp-*) a killed write left, all under the layout's locks.
--older-than then defaults to 10m and spares the files modified more
recently (give 0s to remove them all; on systems without file locks, keep
it longer than any warm takes). It also names the tags whose blobs are
missing; the next warm of such a key rebuilds it (a hit needs every blob).`,
		examples: `
cachecheck prune --to registry.example.com/team/app-deps --keep 3 --older-than 14d --protect-tree . --dry-run
cachecheck prune --to registry.example.com/team/app-deps --keep 3 --older-than 14d --protect ck1-0ac58f425b47172330dc6178be3c5dfc`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}
}

func (o *pruneOptions) validate(args []string) error {
	if err := o.registry.validate(); err != nil {
		return err
	}
	if err := maxArgs("prune", args, 0); err != nil {
		return err
	}
	if o.to == "" {
		return usageErrorf("prune: --to is required: the registry repository or oci:DIR to prune")
	}
	if o.keep < 0 {
		return usageErrorf("prune: --keep %d: want 0 or more", o.keep)
	}
	return nil
}

func (o *pruneOptions) run(ctx context.Context, io IO, args []string) error {
	if o.gc {
		return o.runGC(ctx, io)
	}
	var protect []cachekey.Key
	protectedBy := map[cachekey.Key]string{}
	protectBy := func(k cachekey.Key, by string) {
		protect = append(protect, k)
		if _, ok := protectedBy[k]; !ok {
			protectedBy[k] = by
		}
	}
	for _, p := range o.protect {
		tag, err := publish.ParseTag(p)
		if err != nil {
			return usageErrorf("prune: --protect %q: want a key (ck1-<32 hex>) as printed by 'cachecheck key', or a deps image tag", p)
		}
		protectBy(tag.Key, "--protect "+p)
	}
	for _, dir := range o.protectTree {
		keys, err := treeKeys(dir)
		if err != nil {
			return fmt.Errorf("--protect-tree %s: %w", dir, err)
		}
		for _, k := range keys {
			protectBy(k.key, fmt.Sprintf("--protect-tree %s (current key of %s)", dir, k.dir))
		}
	}
	t, err := publish.ParseTarget(o.to, o.registry.options()...)
	if err != nil {
		return usageErrorf("--to: %v", err)
	}
	if err := checkLayout(t, o.to); err != nil {
		return err
	}
	target, ok := t.(publish.Pruner)
	if !ok {
		return usageErrorf("prune: %s holds one image and is replaced whole by warm; prune a registry repository or an OCI layout (oci:DIR)", o.to)
	}
	now := o.now()
	entries, err := target.List(ctx)
	if err != nil {
		return err
	}
	var images []prune.Image
	descs := map[string]v1.Descriptor{}
	for _, e := range entries {
		tag := e.Tag.String()
		img := prune.Image{Tag: tag, Key: e.Tag.Key, Digest: e.Descriptor.Digest.String(), Module: "(unknown)"}
		if i, err := e.Image(); err == nil {
			if md, err := depsimage.ReadMetadata(i); err == nil && len(md.MainModules) > 0 {
				img.Module = strings.Join(md.MainModules, " ")
			}
			if e.Tag.Revision != "" {
				// warm --build-cache=all's images of one deps image, a
				// commit each: --keep counts them apart.
				img.Module += " (commits on " + e.Tag.Deps().String() + ")"
			}
		} else {
			return fmt.Errorf("reading %s in %s: %w", tag, target, err)
		}
		st, err := target.ReadStamp(ctx, tag)
		switch {
		case err == nil:
			img.Published = st.Published
		case !errors.Is(err, publish.ErrNotFound):
			return err
		}
		images = append(images, img)
		descs[tag] = e.Descriptor
	}
	doc := &reports.Prune{Target: target.String(), DryRun: o.dryRun, Keep: o.keep, OlderThan: o.olderThan.String(), Now: now.UTC()}
	var failure error
	for _, d := range prune.Decide(images, prune.Policy{Keep: o.keep, OlderThan: o.olderThan.d, Protect: protect, ProtectedBy: protectedBy, Now: now}) {
		pi := reports.PrunedImage{Tag: d.Tag, Digest: d.Digest, Module: d.Module, Action: "kept", Reason: d.Reason}
		if !d.Published.IsZero() {
			p := d.Published.UTC()
			pi.Published = &p
		}
		switch {
		case failure != nil:
			// A delete failed: keep the rest as they are.
		case d.Remove && o.dryRun:
			pi.Action = "would remove"
		case d.Remove:
			if err := target.Delete(ctx, d.Tag, descs[d.Tag]); err != nil {
				failure = err
				break
			}
			pi.Action = "removed"
		case d.Published.IsZero() && !o.dryRun:
			if err := target.WriteStamp(ctx, d.Tag, publish.Stamp{Digest: descs[d.Tag].Digest, Published: now}); err != nil {
				failure = err
				break
			}
			pi.Stamped = true
			doc.Stamped++
		}
		if pi.Action == "kept" {
			doc.Kept++
		} else {
			doc.Removed++
		}
		doc.Images = append(doc.Images, pi)
	}
	if err := o.print(io, doc); err != nil {
		return err
	}
	return failure
}

func (o *pruneOptions) print(io IO, doc reports.Doc) error {
	return reports.Write(io.Out, reports.Format(o.format.String()), doc)
}

// treeKey is the current key of a module or workspace of a tree.
type treeKey struct {
	key cachekey.Key
	// dir is the unit's directory relative to the tree, slash-separated.
	dir string
}

// treeKeys returns the current keys of the modules and workspaces under
// dir, as warm --all finds them.
func treeKeys(dir string) ([]treeKey, error) {
	units, err := modtree.Find(dir)
	if err != nil {
		return nil, err
	}
	var keys []treeKey
	for _, u := range units {
		k, err := cachekey.ComputeDir(filepath.Join(dir, filepath.FromSlash(u.Dir)))
		if err != nil {
			// A module whose key cannot be computed protects nothing;
			// its images age like any other.
			continue
		}
		keys = append(keys, treeKey{key: k.Key, dir: u.Dir})
	}
	return keys, nil
}

// gcDefaultAge is how old a file must be for --gc to remove it when
// --older-than is not given.
const gcDefaultAge = 10 * time.Minute

// runGC collects the garbage of an OCI layout.
func (o *pruneOptions) runGC(ctx context.Context, io IO) error {
	for _, f := range []string{"keep", "protect", "protect-tree"} {
		if o.changed(f) {
			return usageErrorf("prune: --gc removes no image, so --%s means nothing with it; run prune without --gc to remove images", f)
		}
	}
	age := gcDefaultAge
	if o.changed("older-than") {
		age = o.olderThan.d
	}
	t, err := publish.ParseTarget(o.to, o.registry.options()...)
	if err != nil {
		return usageErrorf("--to: %v", err)
	}
	if err := checkLayout(t, o.to); err != nil {
		return err
	}
	c, ok := t.(publish.Collector)
	if !ok {
		return usageErrorf("prune: --gc collects the garbage of an OCI layout (oci:DIR); a registry collects its own (distribution: 'registry garbage-collect')")
	}
	now := o.now()
	files, broken, err := c.GC(ctx, prune.GCPolicy{OlderThan: age, Now: now}, o.dryRun)
	if err != nil && len(files) == 0 {
		return err
	}
	doc := &reports.PruneGC{Target: c.String(), DryRun: o.dryRun, OlderThan: prune.FormatAge(age), Now: now.UTC(), Files: []reports.GCFile{}, Broken: broken}
	for _, f := range files {
		doc.Files = append(doc.Files, reports.GCFile{Path: f.Path, Digest: f.Digest, Temp: f.Temp, Size: f.Size, ModTime: f.ModTime})
		if f.Temp {
			doc.Temporary++
		} else {
			doc.Blobs++
		}
		doc.Bytes += f.Size
	}
	if perr := o.print(io, doc); err == nil {
		err = perr
	}
	if o.format.String() == "text" {
		for _, warning := range doc.BrokenWarnings() {
			fmt.Fprintln(io.Err, warning)
		}
	}
	return err
}

// checkLayout fails for an OCI layout that is not there: pruning it would
// say "removed 0 of 0" of a directory that was probably mistyped.
func checkLayout(t publish.Target, to string) error {
	e, ok := t.(interface{ Exists() (bool, error) })
	if !ok {
		return nil
	}
	exists, err := e.Exists()
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("prune: no OCI layout at %s (no index.json there); check --to, or warm into it first", strings.TrimPrefix(to, "oci:"))
	}
	return nil
}
