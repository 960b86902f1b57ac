package output

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned once the reader of the output has gone away (EPIPE,
// as after `| head`). Callers treat it as a normal, quiet end.
var ErrClosed = errors.New("output closed by its reader")

const (
	// flushSize is how much Writer batches before it writes regardless of time.
	flushSize = 64 << 10
	// chunkSize bounds one write(2): PIPE_BUF, the most a pipe takes in
	// one piece, so a write blocked on a full pipe has written nothing.
	chunkSize = 4096
)

// Writer batches output lines and writes them on Flush or when 64 KiB are
// pending. When to flush on time is the caller's policy (the runtime flushes
// within 50 ms of an event).
//
// The write(2) itself runs on a goroutine of its own, because nothing can
// interrupt it while the reader of a pipe does not read: Flush waits for it
// until Discard is called, and then returns. From then on, lines are
// dropped and counted (Unwritten) instead of written.
type Writer struct {
	w   io.Writer
	buf []byte
	err error

	req     chan []byte   // a batch to the writing goroutine
	ack     chan error    // its result
	written atomic.Int64  // bytes of the current batch written so far
	discard chan struct{} // closed by Discard
	once    sync.Once
	// stopping is closed by DiscardAfter, which sets grace.
	stopping chan struct{}
	stopOnce sync.Once
	grace    atomic.Int64

	unwritten atomic.Uint64
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, flushSize+4096), discard: make(chan struct{}), stopping: make(chan struct{})}
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

// Flush writes everything buffered. EPIPE becomes ErrClosed. Once Discard
// was called it drops the lines instead and returns nil.
func (w *Writer) Flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	select {
	case <-w.discard:
		w.drop(w.buf)
		w.buf = w.buf[:0]
		return nil
	default:
	}
	if w.req == nil {
		w.req, w.ack = make(chan []byte), make(chan error, 1)
		go w.writeLoop()
	}
	w.written.Store(0)
	w.req <- w.buf // the goroutine is idle: the last batch was acknowledged
	written, err := w.wait()
	if !written {
		// The goroutine keeps the batch, in its write until the process
		// ends; what it did not get out is lost.
		w.drop(w.buf[w.written.Load():])
		w.buf = make([]byte, 0, cap(w.buf))
		return nil
	}
	w.buf = w.buf[:0]
	if errors.Is(err, syscall.EPIPE) {
		err = ErrClosed
	}
	w.err = err
	return err
}

// writeLoop writes each batch in chunks of whole lines of at most
// chunkSize bytes (a longer line alone), recording its progress, so that
// Flush can tell which lines got out if it stops waiting.
func (w *Writer) writeLoop() {
	for b := range w.req {
		var err error
		for off := 0; off < len(b) && err == nil; {
			end := min(off+chunkSize, len(b))
			if end < len(b) {
				if nl := bytes.LastIndexByte(b[off:end], '\n'); nl >= 0 {
					end = off + nl + 1
				} else if nl := bytes.IndexByte(b[end:], '\n'); nl >= 0 {
					end += nl + 1
				} else {
					end = len(b)
				}
			}
			_, err = w.w.Write(b[off:end])
			off = end
			w.written.Store(int64(off))
		}
		w.ack <- err
	}
}

// wait waits for the batch in flight to be written, and reports false if
// it was given up instead: at Discard, or once DiscardAfter's grace passed
// without the output taking it.
func (w *Writer) wait() (written bool, err error) {
	stopping := w.stopping
	var expired <-chan time.Time
	for {
		select {
		case err = <-w.ack:
			return true, err
		case <-w.discard:
			select {
			case err = <-w.ack: // written after all
				return true, err
			default:
				return false, nil
			}
		case <-stopping:
			t := time.NewTimer(time.Duration(w.grace.Load()))
			defer t.Stop()
			stopping, expired = nil, t.C
		case <-expired:
			w.Discard()
		}
	}
}

// drop counts the lines of b as unwritten.
func (w *Writer) drop(b []byte) {
	w.unwritten.Add(uint64(bytes.Count(b, []byte{'\n'})))
}

// Discard makes Flush stop waiting for a write that does not complete and
// drop every line from now on, counting them. It is safe to call from any
// goroutine, and more than once.
func (w *Writer) Discard() { w.once.Do(func() { close(w.discard) }) }

// DiscardAfter gives the output d, from now on, to take each batch: a
// batch it has not taken within d (its reader stopped reading) is given
// up with everything after it, as at Discard. What is written after the
// call, such as a summary made at the stop, gets its d however long it
// took to make: only an output that takes nothing is given up.
func (w *Writer) DiscardAfter(d time.Duration) {
	w.grace.Store(int64(d))
	w.stopOnce.Do(func() { close(w.stopping) })
}

// Unwritten returns how many lines were dropped because of Discard.
func (w *Writer) Unwritten() uint64 { return w.unwritten.Load() }

// ErrStdoutClosed is CheckStdout's error for a stdout that was closed when
// ebtools started.
var ErrStdoutClosed = errors.New("stdout is closed: events would go nowhere (to discard them on purpose, redirect stdout to /dev/null)")

// CheckStdout returns ErrStdoutClosed if stdout was closed when the process
// started (`ebtools execsnoop >&-`). Go's runtime puts /dev/null, opened
// read-write, in place of a closed standard descriptor before main runs, so
// that is what is looked for: a shell's `>/dev/null` opens it write-only.
func CheckStdout(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("check stdout: %w", err)
	}
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Errorf("check stdout: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3) && fl&unix.O_ACCMODE == unix.O_RDWR {
		return ErrStdoutClosed
	}
	return nil
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
