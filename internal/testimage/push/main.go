// Command push builds the test builder image (see package testimage) and
// pushes it to the reference given as its argument, printing the reference
// by digest. .ci/setup.d/20-baseimage.sh runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/cachecheck/cachecheck/internal/testimage"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: push REGISTRY/REPOSITORY:TAG")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// make, as in the official golang images: many Dockerfiles build
	// with it.
	d, err := testimage.Push(ctx, os.Args[1], testimage.WithTools("make"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "push:", err)
		os.Exit(1)
	}
	fmt.Println(d.String())
}
