package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// cmdMkproxy is the script command 'mkproxy SRC DST': it turns every
// directory SRC/PATH@VERSION (a module's files) into a module proxy in DST,
// served as GOPROXY=file://DST. A go.mod is made up when the module has
// none. Running it again over changed files serves changed content.
func cmdMkproxy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mkproxy SRC DST")
	}
	src, dst := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || !strings.Contains(d.Name(), "@") {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		path, version, _ := strings.Cut(filepath.ToSlash(rel), "@")
		if err := addModule(p, dst, path, version); err != nil {
			return fmt.Errorf("%s@%s: %w", path, version, err)
		}
		return filepath.SkipDir
	})
	ts.Check(err)
}

func addModule(dir, proxy, path, version string) error {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if os.IsNotExist(err) {
		gomod = []byte("module " + path + "\n\ngo 1.21\n")
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	ep, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return err
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(ep), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	var zip bytes.Buffer
	if err := modzip.CreateFromDir(&zip, module.Version{Path: path, Version: version}, dir); err != nil {
		return err
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":"2024-01-01T00:00:00Z"}`, version)
	for name, data := range map[string][]byte{ev + ".zip": zip.Bytes(), ev + ".mod": gomod, ev + ".info": []byte(info)} {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			return err
		}
	}
	list, _ := os.ReadFile(filepath.Join(vdir, "list"))
	if !strings.Contains("\n"+string(list), "\n"+version+"\n") {
		list = append(list, version+"\n"...)
	}
	return os.WriteFile(filepath.Join(vdir, "list"), list, 0o644)
}
