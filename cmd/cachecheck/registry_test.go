package main

import (
	"io"
	"log"
	"net"
	"net/http/httptest"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdRegistry starts go-containerregistry's in-memory registry on a
// loopback port for the rest of the script and sets $REGISTRY to its
// host:port:
//
//	registry
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: registry")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	ts.Defer(srv.Close)
	ts.Setenv("REGISTRY", l.Addr().String())
}
