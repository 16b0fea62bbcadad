//go:build unix

package proc

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// killGroup kills the process group of cmd, whose leader is cmd's process.
func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
