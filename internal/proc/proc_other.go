//go:build !unix

package proc

import "os/exec"

// setup leaves cmd as exec.CommandContext made it: cancellation kills the
// child alone.
func setup(cmd *exec.Cmd) {}
