package runtime

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types lossy testdata/lossy.bpf.c -- -I../bpf/include

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

type countingHandler struct{ events, flushes int }

func (h *countingHandler) Event([]byte) error { h.events++; return nil }
func (h *countingHandler) Flush() error       { h.flushes++; return nil }

// startLossy starts the lossy test program with hooks, filtered to this
// process, logging at info level into the returned buffer.
func startLossy(t *testing.T, hooks ...Hook) (*Session, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	p := Program{Name: "lossy", Load: loadLossy, Hooks: hooks}
	s, err := Start(context.Background(), p, Options{Logger: log, Constants: map[string]any{"targ_pid": uint32(os.Getpid())}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// drain hands h what s buffered, then stops.
func drain(t *testing.T, s *Session, h Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx, h); err != nil {
		t.Fatal(err)
	}
}

var getppidHook = Hook{Name: "getppid", Choices: [][]string{{lossyProgLossyGetppid}}}

// TestLostEvents overflows a 4 KiB ring buffer while nobody reads it: every
// event is either delivered or counted as lost, and the loss is logged.
func TestLostEvents(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, perfbuf := range []bool{false, true} {
		name := map[bool]string{false: "ringbuf", true: "perfbuf"}[perfbuf]
		t.Run(name, func(t *testing.T) {
			if perfbuf {
				t.Setenv("EBTOOLS_FORCE", "perfbuf")
			}
			s, logs := startLossy(t, getppidHook)
			const n = 2000
			for i := 0; i < n; i++ {
				syscall.Getppid()
			}
			h := &countingHandler{}
			drain(t, s, h)
			t.Logf("%s: delivered %d, lost %d of %d", name, h.events, s.Lost(), n)
			if h.events+int(s.Lost()) != n || s.Lost() == 0 || h.events == 0 {
				t.Errorf("delivered %d + lost %d, want %d with both > 0", h.events, s.Lost(), n)
			}
			if !strings.Contains(logs.String(), "events lost in total") || h.flushes == 0 {
				t.Errorf("loss not reported or output not flushed (%d flushes):\n%s", h.flushes, logs.String())
			}
		})
	}
}

// malformedHandler rejects every third event as malformed.
type malformedHandler struct{ events int }

func (h *malformedHandler) Event([]byte) error {
	h.events++
	if h.events%3 == 0 {
		return fmt.Errorf("decode test event: %w", ErrMalformed)
	}
	return nil
}
func (h *malformedHandler) Flush() error { return nil }

// TestMalformedEvents: an event the handler cannot decode is dropped,
// counted and reported, and the stream goes on.
func TestMalformedEvents(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, logs := startLossy(t, getppidHook)
	const n = 6 // fits the 4 KiB ring (~500 bytes an event): nothing is lost
	for i := 0; i < n; i++ {
		syscall.Getppid()
	}
	h := &malformedHandler{}
	drain(t, s, h)
	if h.events != n || s.Malformed() != n/3 || s.Lost() != 0 {
		t.Errorf("handled %d, malformed %d, lost %d; want %d, %d, 0", h.events, s.Malformed(), s.Lost(), n, n/3)
	}
	for _, want := range []string{"malformed event dropped", "decode test event", "malformed events dropped in total", "malformed=2"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestSkippedRuns: a program run the kernel skips because the program is
// already running on that CPU is counted and reported. Both kernels the
// suite runs on (6.1 and 6.18) count such misses for tp_btf programs.
func TestSkippedRuns(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, logs := startLossy(t,
		Hook{Name: "getpgid", Choices: [][]string{{lossyProgLossyNested}}},
		Hook{Name: "printk", Choices: [][]string{{lossyProgLossyPrintk}}})
	const n = 5
	for i := 0; i < n; i++ {
		syscall.Getpgid(0)
	}
	drain(t, s, &countingHandler{})
	t.Logf("%d runs skipped", s.Skipped())
	if s.Skipped() < n {
		t.Errorf("skipped = %d, want at least %d", s.Skipped(), n)
	}
	if !strings.Contains(logs.String(), "skipped="+strconv.FormatUint(s.Skipped(), 10)) {
		t.Errorf("skipped runs not reported:\n%s", logs.String())
	}
}

// TestWakeupAtQuarter: events are written without waking the reader until
// the ring holds more than a quarter of its size (ebt_wakeup_flag); past
// that the reader is woken, at the latest once each CPU filled its wakeup
// stride more. The wakeup is watched with an epoll of our own on the ring,
// which, like the reader's, reports only the kernel's wakeups. (Perf
// buffers, before 5.8, wake the reader for every event: no policy to test.)
func TestWakeupAtQuarter(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, emit := startSmall(t)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	ring := s.coll.Maps[eventsMap]
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ring.FD(), &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		t.Fatal(err)
	}
	woken := func(timeoutMs int) bool {
		t.Helper()
		evs := make([]unix.EpollEvent, 1)
		for {
			n, err := unix.EpollWait(ep, evs, timeoutMs)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			return n > 0
		}
	}

	// The stride counts the 8-byte header too.
	const ring4, record = lossyRing / 4, smallRecord
	// The ring holds a quarter exactly: no event saw more, none woke.
	emit(ring4 / record)
	if woken(0) {
		t.Fatalf("woken with the ring a quarter full (%d bytes)", ring4)
	}
	// Past a quarter by the strides of every CPU (a sixteenth of the ring
	// in all) and one event each: woken by now.
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	more := (lossyRing/16)/record + cpus + 2
	emit(more)
	if !woken(1000) {
		t.Fatalf("not woken with the ring over a quarter and a sixteenth full")
	}
	h := &countingHandler{}
	drain(t, s, h)
	if want := ring4/record + more; h.events != want || s.Lost() != 0 {
		t.Errorf("delivered %d, lost %d; want %d delivered, none lost", h.events, s.Lost(), want)
	}
}

// atomicHandler counts events; safe to read while Run calls it.
type atomicHandler struct{ events atomic.Int64 }

func (h *atomicHandler) Event([]byte) error { h.events.Add(1); return nil }
func (h *atomicHandler) Flush() error       { return nil }

// lossy's ring holds lossyRing bytes; a small event takes smallRecord of
// them: 8 bytes and an 8-byte header.
const lossyRing, smallRecord = 4096, 16

// startSmall starts lossy's small events on getsid, on a ring buffer, and
// returns a function that makes n events.
func startSmall(t *testing.T) (*Session, func(n int)) {
	t.Helper()
	t.Setenv("EBTOOLS_FORCE", "")
	s, _ := startLossy(t, Hook{Name: "getsid", Choices: [][]string{{lossyProgLossySmall}}})
	if s.perfbuf {
		t.Skip("no BPF ring buffer in this kernel (5.8+)")
	}
	return s, func(n int) {
		for i := 0; i < n; i++ {
			unix.Getsid(0)
		}
	}
}

// netpolled returns s's reader, which waits in the netpoller.
func netpolled(t *testing.T, s *Session) *ringReader {
	t.Helper()
	r, ok := s.reader.(*ringReader)
	if !ok || r.ring == nil {
		t.Fatalf("reader %T does not wait in the netpoller", s.reader)
	}
	return r
}

// waitParked waits until a goroutine is parked in the netpoller inside
// ringReader.read ("IO wait"; blocked in epoll_wait it would show
// "syscall").
func waitParked(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for start := time.Now(); ; runtime.Gosched() {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "[IO wait") && strings.Contains(g, "(*ringReader).read") {
				return
			}
		}
		if time.Since(start) > testutil.Scaled(5*time.Second) {
			t.Fatalf("no read parked in the netpoller:\n%s", stacks)
		}
	}
}

type readResult struct {
	n   int
	err error
}

// TestRingWaitInNetpoller: with nothing in the ring, a read waits parked in
// Go's netpoller; events written without a wakeup do not end the wait, the
// deadline does; the kernel's wakeup past a quarter of the ring does; and
// Flush does, after which reads hand out what the ring holds, then
// ringbuf.ErrFlushed.
func TestRingWaitInNetpoller(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, emit := startSmall(t)
	r := netpolled(t, s)
	reads := make(chan readResult, 1)
	start := func(deadline time.Time) {
		r.SetDeadline(deadline)
		go func() {
			raw, err := r.read()
			reads <- readResult{len(raw), err}
		}()
		waitParked(t)
	}
	got := func(what string) readResult {
		t.Helper()
		select {
		case res := <-reads:
			return res
		case <-time.After(testutil.Scaled(5 * time.Second)):
			t.Fatalf("%s: the read did not return", what)
			return readResult{}
		}
	}
	// drain reads, with no wait, what the ring holds; it returns how many.
	drain := func(last error) int {
		t.Helper()
		r.SetDeadline(time.Unix(1, 0))
		n := 0
		for {
			_, err := r.read()
			if err != nil {
				if !errors.Is(err, last) {
					t.Fatalf("read: %v, want %v", err, last)
				}
				return n
			}
			n++
		}
	}
	hour := func() time.Time { return time.Now().Add(time.Hour) }

	// Below a quarter of lossy's ring the kernel does not wake the reader: the wait goes on until
	// its deadline, which here is moved to now.
	start(hour())
	emit(10)
	select {
	case res := <-reads:
		t.Fatalf("woken by events below a quarter of the ring: %+v", res)
	case <-time.After(100 * time.Millisecond):
	}
	r.SetDeadline(time.Unix(1, 0))
	if res := got("deadline"); res.err != nil || res.n == 0 {
		t.Fatalf("after the deadline: %+v, want an event", res)
	}
	if n := drain(os.ErrDeadlineExceeded); n != 9 {
		t.Fatalf("%d more events, want 9", n)
	}

	// Past a quarter, and the strides of every CPU: the kernel wakes it.
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	more := lossyRing/4/smallRecord + lossyRing/16/smallRecord + cpus + 2
	start(hour())
	emit(more)
	if res := got("wakeup"); res.err != nil || res.n == 0 {
		t.Fatalf("after the wakeup: %+v, want an event", res)
	}
	if n := drain(os.ErrDeadlineExceeded); n != more-1 {
		t.Fatalf("%d more events, want %d", n, more-1)
	}

	// Flush ends a wait that nothing else would end for an hour.
	start(hour())
	emit(3)
	r.Flush()
	if res := got("flush"); res.err != nil || res.n == 0 {
		t.Fatalf("after Flush: %+v, want an event", res)
	}
	if n := drain(ringbuf.ErrFlushed); n != 2 {
		t.Fatalf("%d more events before ErrFlushed, want 2", n)
	}
}

// TestRunStopsWhileWaiting: Run, cancelled while its read is parked in the
// netpoller with events in the ring that woke nobody, hands them all over
// and returns.
func TestRunStopsWhileWaiting(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, emit := startSmall(t)
	netpolled(t, s)
	h := &atomicHandler{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	waitParked(t)
	emit(5)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testutil.Scaled(5 * time.Second)):
		t.Fatal("Run did not return after its context ended")
	}
	if n := h.events.Load(); n != 5 || s.Lost() != 0 {
		t.Errorf("delivered %d, lost %d; want 5, none lost", n, s.Lost())
	}
}
