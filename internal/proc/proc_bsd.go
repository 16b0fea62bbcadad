//go:build unix && !linux

package proc

import (
	"os/exec"
	"syscall"
)

// setup puts the child in a process group of its own; without Pdeathsig,
// only cancellation kills it.
func setup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
}
