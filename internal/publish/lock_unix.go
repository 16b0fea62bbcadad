//go:build unix

package publish

import (
	"os"
	"syscall"
)

// locks reports whether lockFile locks on this system.
const locks = true

// lockFile takes a lock on file, creating it, exclusive or shared, and
// returns the function that releases it. The lock goes with the process.
func lockFile(file string, exclusive bool) (func(), error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
