// Package modtree finds the Go modules and workspaces in a directory tree.
package modtree

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
)

// Unit is a module or a workspace to warm.
type Unit struct {
	// Dir is the unit's directory relative to the root, in slash form;
	// "." for the root itself.
	Dir string
	// Workspace reports whether Dir holds a go.work.
	Workspace bool
	// Uses lists, for a workspace, the directories of its modules (those of
	// its use directives), relative to the root, in slash form. A module
	// a workspace uses is warmed through the workspace, not on its own.
	Uses []string
}

// Find returns the modules and workspaces under root, sorted by directory:
// every directory holding a go.work, and every directory holding a go.mod
// that no workspace found under root uses. Like the go command's ./...
// pattern, it skips directories whose names begin with "." or "_", those
// named testdata or vendor, and those a go.mod ignore directive names; root
// itself is never skipped.
func Find(root string) ([]Unit, error) {
	var works []Unit
	var mods []string
	// ignored holds, for each module directory (relative, slash form), its
	// ignore directives.
	type ignore struct {
		modDir string
		paths  []string
	}
	var ignores []ignore
	isIgnored := func(rel string) bool {
		for _, ig := range ignores {
			if ig.modDir != "." && rel != ig.modDir && !strings.HasPrefix(rel, ig.modDir+"/") {
				continue
			}
			inMod := rel
			if ig.modDir != "." {
				inMod = strings.TrimPrefix(strings.TrimPrefix(rel, ig.modDir), "/")
			}
			for _, p := range ig.paths {
				if rp, ok := strings.CutPrefix(p, "./"); ok {
					if inMod == rp || strings.HasPrefix(inMod, rp+"/") {
						return true
					}
				} else if inMod == p || strings.HasSuffix(inMod, "/"+p) {
					return true
				}
			}
		}
		return false
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." {
			name := d.Name()
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || isIgnored(rel) {
				return filepath.SkipDir
			}
		}
		if data, err := os.ReadFile(filepath.Join(p, "go.work")); err == nil {
			u := Unit{Dir: rel, Workspace: true}
			// A go.work that does not parse is still a unit: warming it
			// reports the error with its line.
			if wf, err := modfile.ParseWork(filepath.Join(p, "go.work"), data, nil); err == nil {
				for _, use := range wf.Use {
					if filepath.IsAbs(use.Path) {
						r, err := filepath.Rel(root, use.Path)
						if err != nil {
							continue
						}
						u.Uses = append(u.Uses, filepath.ToSlash(r))
						continue
					}
					u.Uses = append(u.Uses, path.Clean(path.Join(rel, filepath.ToSlash(use.Path))))
				}
			}
			works = append(works, u)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s: %w", filepath.Join(p, "go.work"), err)
		}
		if data, err := os.ReadFile(filepath.Join(p, "go.mod")); err == nil {
			mods = append(mods, rel)
			if mf, err := modfile.ParseLax(filepath.Join(p, "go.mod"), data, nil); err == nil && len(mf.Ignore) > 0 {
				ig := ignore{modDir: rel}
				for _, i := range mf.Ignore {
					ig.paths = append(ig.paths, strings.TrimSuffix(i.Path, "/"))
				}
				ignores = append(ignores, ig)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s: %w", filepath.Join(p, "go.mod"), err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding Go modules under %s: %w", root, err)
	}
	used := map[string]bool{}
	for _, w := range works {
		for _, u := range w.Uses {
			used[u] = true
		}
	}
	units := works
	for _, m := range mods {
		if !used[m] {
			units = append(units, Unit{Dir: m})
		}
	}
	sort.Slice(units, func(i, j int) bool {
		if units[i].Dir != units[j].Dir {
			return units[i].Dir < units[j].Dir
		}
		return units[i].Workspace
	})
	return units, nil
}
