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

// maxErrno bounds the errno numbers a syscall can return (MAX_ERRNO).
const maxErrno = 4095

// ErrnoWidth is the width of a text column that shows errno names (such as
// unlinksnoop's RESULT): the longest name Linux defines, ENOTRECOVERABLE's
// 15, so that no name pushes the following columns out of line.
var ErrnoWidth = errnoWidth()

func errnoWidth() int {
	w := 0
	for e := 1; e <= maxErrno; e++ {
		w = max(w, len(ErrnoName(e)))
	}
	return w
}
