// Command push builds the test builder image (see package testimage) and
// pushes it to the reference given as its argument, printing the reference
// by digest. .ci/setup.d/20-baseimage.sh runs it; 21-gccimage.sh adds,
// with --tree, a C compiler unpacked from Debian's packages.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/cachecheck/cachecheck/internal/testimage"
)

func main() {
	var trees []string
	flag.Func("tree", "add the files under `DIR` at the same paths (repeatable)", func(s string) error { trees = append(trees, s); return nil })
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: push [--tree DIR]... REGISTRY/REPOSITORY:TAG") }
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// make, as in the official golang images: many Dockerfiles build
	// with it.
	opts := []testimage.Option{testimage.WithTools("make")}
	for _, t := range trees {
		opts = append(opts, testimage.WithTree(t))
	}
	d, err := testimage.Push(ctx, flag.Arg(0), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "push:", err)
		os.Exit(1)
	}
	fmt.Println(d.String())
}
