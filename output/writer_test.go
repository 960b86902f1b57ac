package output

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
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
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
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
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
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
	case <-time.After(5 * time.Second):
		t.Fatal("closing the reader was not noticed")
	}
}
