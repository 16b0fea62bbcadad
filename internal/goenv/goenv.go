// Package goenv reads the go command's module settings the way the go
// command resolves them: the environment, then the go env file that
// 'go env -w' writes (GOENV), then the go command's defaults.
package goenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cachecheck/cachecheck/internal/proc"
)

// Env holds the settings that decide where and how the go command fetches
// modules, as 'go env' prints them: GONOPROXY and GONOSUMDB default to
// GOPRIVATE, GOPROXY to the go command's default proxy list.
type Env struct {
	GOPROXY    string
	GOPRIVATE  string
	GONOPROXY  string
	GONOSUMDB  string
	GOINSECURE string
	GOFLAGS    string
}

// names are the variables Read asks for, the fields of Env.
var names = []string{"GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOFLAGS"}

// Read runs 'go env -json' with the go command goCmd in dir, with the
// environment env (that of the go command the settings are for), once for
// all the settings of Env.
func Read(ctx context.Context, goCmd, dir string, env []string) (*Env, error) {
	var stderr bytes.Buffer
	cmd := proc.Command(ctx, goCmd, append([]string{"env", "-json"}, names...)...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stderr = &stderr
	out, err := proc.Output(cmd)
	if err != nil {
		return nil, fmt.Errorf("running go env: %v\n%s", err, strings.TrimSpace(stderr.String()))
	}
	var e Env
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, fmt.Errorf("reading the output of go env -json: %w", err)
	}
	return &e, nil
}
