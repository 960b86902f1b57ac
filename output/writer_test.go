package output

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
)

func TestWriterBatchesUntilFlush(t *testing.T) {
	var sb strings.Builder
	w := NewWriter(&sb)
	w.Write([]byte("one\n"))
	if sb.Len() != 0 {
		t.Fatalf("wrote before Flush: %q", sb.String())
	}
	w.Write(make([]byte, flushSize))
	if sb.Len() != flushSize+4 {
		t.Fatalf("did not write at %d bytes pending: %d written", flushSize, sb.Len())
	}
}

func TestWriterEPIPE(t *testing.T) {
	r, wr := pipe(t)
	r.Close()
	w := NewWriter(wr)
	w.Write([]byte("line\n"))
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Flush to a pipe without reader = %v, want ErrClosed", err)
	}
	if _, err := w.Write([]byte("more\n")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after EPIPE = %v, want ErrClosed", err)
	}
}

func TestWatchClosed(t *testing.T) {
	r, wr := pipe(t)
	closed := make(chan struct{})
	WatchClosed(wr, func() { close(closed) })
	select {
	case <-closed:
		t.Fatal("reported closed while the reader is open")
	case <-time.After(50 * time.Millisecond):
	}
	r.Close()
	select {
	case <-closed:
	case <-time.After(testutil.Scaled(5 * time.Second)):
		t.Fatal("closing the reader was not noticed")
	}
}

// TestWriterDiscard: a Flush blocked on a pipe nobody reads returns once
// Discard is called, and every line is either in the pipe or counted as
// unwritten.
func TestWriterDiscard(t *testing.T) {
	r, wr := pipe(t)
	w := NewWriter(wr)
	line := []byte(strings.Repeat("x", 99) + "\n")
	const lines = 3000 // 300 KB: more than the pipe takes
	flushed := make(chan error)
	go func() {
		for i := 0; i < lines; i++ {
			w.Write(line)
		}
		flushed <- w.Flush()
	}()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned %v with nobody reading", err)
	case <-time.After(100 * time.Millisecond):
	}
	began := time.Now()
	w.Discard()
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatalf("Flush after Discard = %v", err)
		}
	case <-time.After(testutil.Scaled(time.Second)):
		t.Fatalf("Flush still blocked %v after Discard", testutil.Scaled(time.Second))
	}
	t.Logf("Flush returned %v after Discard", time.Since(began))
	if _, err := w.Write(line); err != nil || w.Flush() != nil {
		t.Fatalf("Write or Flush after Discard failed: %v", err)
	}
	wr.Close()
	// What the pipe holds, whole lines only, and what was dropped: all lines.
	var got int
	buf := make([]byte, 1<<20)
	r.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, err := r.Read(buf)
		for _, c := range buf[:n] {
			if c == '\n' {
				got++
			}
		}
		if err != nil {
			break
		}
	}
	if got == 0 || w.Unwritten() == 0 || uint64(got)+w.Unwritten() != lines+1 {
		t.Errorf("%d lines in the pipe + %d unwritten, want %d in all", got, w.Unwritten(), lines+1)
	}
}

// TestWriterDiscardAfter: after DiscardAfter, output that is read gets
// through however late it is written (a summary that takes long to make),
// and a Flush the reader takes nothing of returns after the grace, its
// lines counted as unwritten.
func TestWriterDiscardAfter(t *testing.T) {
	r, wr := pipe(t)
	w := NewWriter(wr)
	const grace = 100 * time.Millisecond
	w.DiscardAfter(grace)
	time.Sleep(3 * grace) // the summary takes longer than the grace to make
	line := []byte(strings.Repeat("x", 99) + "\n")
	w.Write(line)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if n, err := r.Read(buf); err != nil || n != len(line) || w.Unwritten() != 0 {
		t.Fatalf("read %d bytes (%v), %d unwritten; want the line", n, err, w.Unwritten())
	}
	// Nobody reads now: 300 KB is more than the pipe takes.
	const lines = 3000
	began := time.Now()
	for i := 0; i < lines; i++ {
		w.Write(line) // flushes every 64 KB
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	late := grace + testutil.Scaled(time.Second)
	if took := time.Since(began); took < grace || took > late {
		t.Errorf("writes and Flush returned after %v, want the grace of %v", took, grace)
	}
	w.Write(line)
	if err := w.Flush(); err != nil || time.Since(began) > late {
		t.Errorf("Flush after giving up: %v after %v", err, time.Since(began))
	}
	if u := w.Unwritten(); u == 0 || u > lines+1 {
		t.Errorf("%d lines unwritten", u)
	}
}

// pipe returns a pipe's ends, both closed when the test ends (closing one
// earlier is fine).
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}
