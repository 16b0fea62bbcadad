package proc

import (
	"context"
	"os/exec"
	"runtime"
	"time"
)

// WaitDelay is how long Wait waits, once the context is done and the
// child's process group is killed, for its output pipes to close.
const WaitDelay = 5 * time.Second

// Command returns exec.CommandContext(ctx, name, args...) set up so that the
// child does not outlive cachecheck:
//
//   - it runs in a process group of its own, and when ctx is done the whole
//     group is killed (the go command's own children, such as git, too);
//   - on Linux, the kernel kills it (SIGKILL) when cachecheck dies, even by
//     SIGKILL, which no code of cachecheck's sees. Start it with [Run] or
//     [Output], which hold the goroutine to its OS thread while the child
//     runs: the kernel sends that signal when the thread that started the
//     child exits, not only the process (go.dev/issue/27505).
//
// Elsewhere the child gets the process group where the system has them, and
// ctx's cancellation kills it.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	setup(cmd)
	cmd.WaitDelay = WaitDelay
	return cmd
}

// Run starts cmd and waits for it, on a goroutine locked to its OS thread
// (see [Command]).
func Run(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Wait()
}

// Output runs cmd as [Run] does and returns its standard output, as
// [exec.Cmd.Output] does.
func Output(cmd *exec.Cmd) ([]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Output()
}

// CombinedOutput runs cmd as [Run] does and returns its standard output and
// standard error, as [exec.Cmd.CombinedOutput] does.
func CombinedOutput(cmd *exec.Cmd) ([]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.CombinedOutput()
}
