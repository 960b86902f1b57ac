package output

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned once the reader of the output has gone away (EPIPE,
// as after `| head`). Callers treat it as a normal, quiet end.
var ErrClosed = errors.New("output closed by its reader")

// flushSize is how much Writer batches before it writes regardless of time.
const flushSize = 64 << 10

// Writer batches output lines and writes them on Flush or when 64 KiB are
// pending. When to flush on time is the caller's policy (the runtime flushes
// within 50 ms of an event).
type Writer struct {
	w   io.Writer
	buf []byte
	err error
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, flushSize+4096)}
}

// Write buffers p. It returns the error of an earlier failed write, if any.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= flushSize {
		if err := w.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes everything buffered. EPIPE becomes ErrClosed.
func (w *Writer) Flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	if errors.Is(err, syscall.EPIPE) {
		err = ErrClosed
	}
	w.err = err
	return err
}

// WatchClosed calls onClose once the reading end of f goes away, if f is a
// pipe or a socket, so a tool piped into `head` ends even when no further
// event would make a write fail. It returns at once for other files.
func WatchClosed(f *os.File, onClose func()) {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return
	}
	fd := int(f.Fd())
	go func() {
		// With no events requested, poll reports only POLLERR (a pipe
		// with no reader left) and POLLHUP (a socket shut down).
		fds := []unix.PollFd{{Fd: int32(fd)}}
		for {
			n, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || (n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0) {
				onClose()
				return
			}
			if n > 0 { // POLLNVAL: the fd itself was closed; writes will say so
				return
			}
		}
	}()
}

func monotonicNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
