package main

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The commands of the bad-input corpus, testdata/script/corpus_*.txtar.

// cmdFails runs a program that must fail, and checks its exit code and the
// first line of its standard error, exactly; no panic or goroutine dump, and
// at most 60 seconds:
//
//	fails N 'first line of stderr' program [args...]
//
// Its stdout and stderr are then what 'stdout' and 'stderr' check.
func cmdFails(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: fails N 'first line' program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want == 0 {
		ts.Fatalf("fails: exit code %q: want a number other than 0", args[0])
	}
	start := time.Now()
	err = ts.Exec(args[2], args[3:]...)
	elapsed := time.Since(start)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("fails: %v", err)
	}
	stderr := ts.ReadFile("stderr")
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", strings.Join(args[2:], " "), got, want)
	}
	first, _, _ := strings.Cut(stderr, "\n")
	if first != args[1] {
		ts.Fatalf("first line of stderr:\n\t%s\nwant:\n\t%s", first, args[1])
	}
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		ts.Fatalf("stderr holds a panic or a goroutine dump")
	}
	if elapsed > 60*time.Second {
		ts.Fatalf("%s took %v, want at most 60s", args[2], elapsed.Round(time.Second))
	}
}

// cmdRepeat writes a file of N copies of a text, with \n, \t, \x00 and the
// other Go escapes decoded and {N} replaced by the copy's number from 0;
// with -a it appends to the file:
//
//	repeat [-a] FILE N 'TEXT'
func cmdRepeat(ts *testscript.TestScript, neg bool, args []string) {
	appendTo := len(args) > 0 && args[0] == "-a"
	if appendTo {
		args = args[1:]
	}
	if neg || len(args) != 3 {
		ts.Fatalf("usage: repeat [-a] FILE N 'TEXT'")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 || n > 1<<20 {
		ts.Fatalf("repeat: count %q: want 0 to %d", args[1], 1<<20)
	}
	text, err := strconv.Unquote(`"` + strings.ReplaceAll(args[2], `"`, `\"`) + `"`)
	ts.Check(err)
	var b strings.Builder
	if appendTo {
		data, err := os.ReadFile(ts.MkAbs(args[0]))
		if !errors.Is(err, os.ErrNotExist) {
			ts.Check(err)
		}
		b.Write(data)
	}
	for i := range n {
		b.WriteString(strings.ReplaceAll(text, "{N}", strconv.Itoa(i)))
	}
	writeFile(ts, args[0], []byte(b.String()))
}

// cmdGarbage writes N bytes of fixed pseudo-random binary data:
//
//	garbage FILE N
func cmdGarbage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: garbage FILE N")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 || n > 16<<20 {
		ts.Fatalf("garbage: size %q: want 0 to %d", args[1], 16<<20)
	}
	r := rand.New(rand.NewPCG(1, uint64(n)))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	writeFile(ts, args[0], data)
}

// cmdDamageGit overwrites every loose object of the git repository in DIR
// with garbage, as a disk error or an interrupted copy would:
//
//	damagegit DIR
func cmdDamageGit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: damagegit DIR")
	}
	objs, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), ".git", "objects", "??", "*"))
	ts.Check(err)
	if len(objs) == 0 {
		ts.Fatalf("damagegit: no loose objects in %s", args[0])
	}
	for _, p := range objs {
		ts.Check(os.Chmod(p, 0o644))
		ts.Check(os.WriteFile(p, []byte("not a zlib stream"), 0o644))
	}
}

func writeFile(ts *testscript.TestScript, name string, data []byte) {
	p := ts.MkAbs(name)
	ts.Check(os.MkdirAll(filepath.Dir(p), 0o755))
	ts.Check(os.WriteFile(p, data, 0o644))
}
