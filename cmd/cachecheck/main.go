// Command cachecheck makes the Go dependency layer of container builds a
// shared, verified, measurable artifact. See doc.go for the manual.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cachecheck/cachecheck/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
