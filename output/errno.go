package output

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrnoName returns the symbolic name of errno (2 → "ENOENT"), or "" for a
// number Linux does not define.
func ErrnoName(errno int) string {
	if errno <= 0 {
		return ""
	}
	return unix.ErrnoName(syscall.Errno(errno))
}
