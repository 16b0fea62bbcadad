package proc_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/proc"
)

// TestMain turns the test binary into the parent of a child when
// PROC_TEST_PARENT is set: it starts "sh -c 'echo $$; exec sleep 60'"
// with proc, prints the child's pid, and waits to be killed.
func TestMain(m *testing.M) {
	if os.Getenv("PROC_TEST_PARENT") == "1" {
		parent()
		return
	}
	os.Exit(m.Run())
}

func parent() {
	done := make(chan error)
	go func() {
		cmd := proc.Command(context.Background(), "sh", "-c", "echo $$; exec sleep 60")
		cmd.Stdout = os.Stdout
		done <- proc.Run(cmd)
	}()
	// Threads come and go meanwhile: a goroutine that ends locked to its
	// thread ends the thread. Pdeathsig must not fire for those.
	for i := 0; i < 20; i++ {
		go func() { runtime.LockOSThread() }()
	}
	<-done
	os.Exit(1)
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("child %d outlived its parent", pid)
}

// TestParentKilled kills (SIGKILL) a process whose child proc started, and
// checks that the child dies too, and not before.
func TestParentKilled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROC_TEST_PARENT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if !alive(pid) {
		t.Fatalf("child %d died while its parent lived: Pdeathsig fired on a thread's exit", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitGone(t, pid)
}

// TestCancelKillsGroup cancels the context of a child that started a child
// of its own: both die.
func TestCancelKillsGroup(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := proc.Command(ctx, "sh", "-c", "sleep 60 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			errc <- err
			close(started)
			return
		}
		close(started)
		errc <- cmd.Wait()
	}()
	<-started
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the grandchild's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("Wait returned nil after cancel")
	}
	waitGone(t, pid)
	waitGone(t, cmd.Process.Pid)
}
