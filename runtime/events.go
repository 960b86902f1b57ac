package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Handler consumes a tool's events.
type Handler interface {
	// Event decodes and prints one raw event. raw is only valid during the
	// call. Returning an error wrapping ErrMalformed drops this event (Run
	// counts and reports it); any other error ends Run with it.
	Event(raw []byte) error
	// Flush writes out whatever Event buffered.
	Flush() error
}

// Unwritten is implemented by handlers whose output can give up on a
// reader that stopped reading: events handed over but never written out.
// Run counts them as lost.
type Unwritten interface {
	Unwritten() uint64
}

const (
	// flushDelay bounds how long a printed event may wait in the output
	// buffer: events are written in batches while they flow, and no later
	// than this after the first unwritten one (checked after every read,
	// by a clock at most clockEvery samples old).
	flushDelay = 50 * time.Millisecond
	// lostPoll is how often the BPF-side lost counter is read.
	lostPoll = time.Second
	// readPoll bounds how long the reader sleeps: the BPF side writes
	// without waking it (ebt_wakeup_flag in bpf/include/ebtools.bpf.h)
	// until the ring is a quarter full.
	readPoll = 25 * time.Millisecond
	// clockEvery is how many samples, at most, are handled one after the
	// other without reading the clock, while the buffer has more: a clock
	// read costs as much as decoding a sample on some VMs, and a read that
	// finds a sample waits for no deadline.
	clockEvery = 64
	// perfPages is the smallest per-CPU perf buffer, in pages, on kernels
	// without ring buffers (see perfBufferSize).
	perfPages = 64
)

// reader hides the difference between ring and perf buffers.
type reader interface {
	SetDeadline(time.Time)
	// read returns the next sample.
	read() ([]byte, error)
	// buffered reports whether the last read left a sample that the next
	// read returns without waiting.
	buffered() bool
	Flush() error
	Close() error
}

type ringReader struct {
	*ringbuf.Reader
	rec ringbuf.Record
	// ring is the ring's fd, duplicated into Go's netpoller: an empty
	// ring is waited for there, with the goroutine parked, instead of in
	// the Reader's blocking epoll_wait. A thread blocked in a syscall
	// keeps the Go scheduler's monitor waking every 20 us to 10 ms to
	// hand its P over; a parked goroutine lets it sleep. nil where the
	// netpoller refuses the fd: the Reader then waits itself.
	ring  *os.File
	wait  syscall.RawConn
	ready func(uintptr) bool // the ring holds a record; made once
	// flushed is set by Flush: reads no longer wait. The Reader would
	// see the flush only at its next look at its own epoll, which it
	// skips while it finishes a batch that came without a wakeup.
	flushed atomic.Bool
}

// newRingReader reads rd, waiting in the netpoller where it can.
func newRingReader(rd *ringbuf.Reader, m *ebpf.Map, log hclog.Logger) *ringReader {
	r := &ringReader{Reader: rd}
	f, wait, err := pollable(m.FD())
	if err != nil {
		log.Debug("ring buffer waited for in its own epoll", "reason", err)
		return r
	}
	// The Reader itself never waits: it reads what the ring holds.
	rd.SetDeadline(time.Unix(1, 0))
	r.ring, r.wait = f, wait
	r.ready = func(uintptr) bool { return r.AvailableBytes() > 0 }
	return r
}

// pollable returns a duplicate of fd in Go's netpoller, and its RawConn.
// The duplicate shares fd's open file description, so fd becomes
// non-blocking too, which a map's fd ignores (bpf(2), mmap and epoll do
// not look at it); os.NewFile hands only non-blocking fds to the
// netpoller.
func pollable(fd int) (*os.File, syscall.RawConn, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("duplicate ring buffer fd: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, nil, fmt.Errorf("set ring buffer fd non-blocking: %w", err)
	}
	f := os.NewFile(uintptr(dup), "ringbuf")
	// Deadlines work only on files the netpoller took.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("poll ring buffer: %w", err)
	}
	wait, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("poll ring buffer: %w", err)
	}
	return f, wait, nil
}

func (r *ringReader) SetDeadline(t time.Time) {
	if r.ring == nil {
		r.Reader.SetDeadline(t)
		return
	}
	r.ring.SetReadDeadline(t)
}

func (r *ringReader) read() ([]byte, error) {
	err := r.ReadInto(&r.rec)
	if r.ring == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return r.rec.RawSample, err
	}
	// The ring is empty: wait until it is not, or the deadline. A wait
	// that ends, even by the deadline or Flush, reads the ring once more.
	if !r.flushed.Load() {
		err = r.wait.Read(r.ready)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("wait for ring buffer: %w", err)
		}
	}
	err = r.ReadInto(&r.rec)
	return r.rec.RawSample, err
}

// Flush makes reads return what the ring holds, then ringbuf.ErrFlushed:
// the Reader is told first, then reads stop waiting, and a wait in the
// netpoller is cut short (read checks flushed after the loop's last
// SetDeadline, or this deadline comes after it).
func (r *ringReader) Flush() error {
	err := r.Reader.Flush()
	if r.ring != nil {
		r.flushed.Store(true)
		r.ring.SetReadDeadline(time.Unix(1, 0))
	}
	return err
}

func (r *ringReader) Close() error {
	if r.ring != nil {
		r.ring.Close()
	}
	return r.Reader.Close()
}

func (r *ringReader) buffered() bool { return r.rec.Remaining > 0 }

type perfReader struct {
	*perf.Reader
	rec perf.Record
}

func (r *perfReader) read() ([]byte, error) {
	for {
		err := r.ReadInto(&r.rec)
		// The kernel's lost-sample records repeat what ebt_output already
		// counted when bpf_perf_event_output failed: skip them.
		if err != nil || r.rec.LostSamples == 0 {
			return r.rec.RawSample, err
		}
	}
}

// buffered reports whether the CPU buffer just read has more.
func (r *perfReader) buffered() bool { return r.rec.Remaining > 0 }

func (s *Session) newReader() (reader, error) {
	m := s.coll.Maps[eventsMap]
	if m == nil {
		return nil, fmt.Errorf("read events: %s has no %q map", s.prog.Name, eventsMap)
	}
	if s.perfbuf {
		cpus, err := ebpf.PossibleCPU()
		if err != nil {
			return nil, fmt.Errorf("open perf buffer: %w", err)
		}
		size := perfBufferSize(s.perfSize, cpus, os.Getpagesize())
		// Woken by every event, unlike the ring buffer: polling would
		// batch events, and the reader drains one CPU's buffer after the
		// other, so rows from different CPUs would come out of order more.
		rd, err := perf.NewReader(m, size)
		if err != nil {
			return nil, fmt.Errorf("open perf buffer: %w", err)
		}
		s.perfPerCPU = size
		return &perfReader{Reader: rd}, nil
	}
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return newRingReader(rd, m, s.log), nil
}

// perfBufferSize is the per-CPU perf buffer size in bytes that gives the
// room the tool asks for (total bytes, sized for its event rate): total
// split over the CPUs, at least perfPages pages, rounded up to a power of
// two pages as perf requires.
func perfBufferSize(total uint32, cpus, pageSize int) int {
	pages := 1
	for pages < perfPages || pages*pageSize*cpus < int(total) {
		pages *= 2
	}
	return pages * pageSize
}

// Run streams events to h until ctx ends, h fails or the output closes.
// When ctx ends it detaches first, then hands h every event still buffered,
// flushes h and returns nil. Lost events are logged as they are noticed and
// in total at the end.
func (s *Session) Run(ctx context.Context, h Handler) error {
	rd := s.reader
	if rd == nil {
		return fmt.Errorf("read events: %s has no %q map", s.prog.Name, eventsMap)
	}

	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			s.detach()
			rd.Flush()
		case <-done:
		}
	}()

	err := s.loop(rd, h)
	s.detach()
	s.pollLost()
	if ferr := h.Flush(); err == nil {
		err = ferr
	}
	c := s.counts
	if u, ok := h.(Unwritten); ok && u.Unwritten() > 0 {
		n := u.Unwritten()
		c.Unwritten.Add(n)
		s.log.Warn("events lost: the output took nothing until the stop", "unwritten", n)
	}
	events, lost, malformed, skipped := c.Events.Load(), c.Lost(), c.Malformed.Load(), c.Skipped.Load()
	s.log.Info("stopped", "tool", s.prog.Name, "events", events, "lost", lost, "malformed", malformed,
		"skipped", skipped)
	if lost > 0 {
		s.log.Warn("events lost in total", "lost", lost, "delivered", events)
	}
	if malformed > 0 {
		s.log.Warn("malformed events dropped in total", "malformed", malformed, "delivered", events)
	}
	if skipped > 0 {
		s.log.Warn("programs skipped by the kernel in total: events may be missing", "skipped", skipped)
	}
	return err
}

func (s *Session) loop(rd reader, h Handler) error {
	var pending time.Time // when the oldest unflushed event was handled
	// A read may wait only when the one before left nothing buffered: it
	// gets a deadline from a fresh clock then, and the clock is read after
	// it. Reads that find a sample waiting leave the deadline as it was
	// and read the clock once every clockEvery samples; pending may then
	// start early, which only flushes earlier.
	now := time.Now()
	unclocked := 0
	buffered := false
	nextPoll := now.Add(lostPoll)
	for {
		if !buffered {
			deadline := now.Add(readPoll)
			if !pending.IsZero() && pending.Add(flushDelay).Before(deadline) {
				deadline = pending.Add(flushDelay)
			}
			rd.SetDeadline(deadline)
		}
		raw, err := rd.read()
		mayHaveWaited := !buffered
		buffered = err == nil && rd.buffered()
		if mayHaveWaited || !buffered || unclocked >= clockEvery {
			now = time.Now()
			unclocked = 0
		} else {
			unclocked++
		}
		switch {
		case err == nil:
			s.counts.Events.Add(1)
			if err := h.Event(raw); err != nil {
				if !errors.Is(err, ErrMalformed) {
					return err
				}
				s.addMalformed(err)
			}
			if pending.IsZero() {
				pending = now
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, ringbuf.ErrClosed):
			return nil
		default:
			return fmt.Errorf("read events: %w", err)
		}
		if !pending.IsZero() && now.Sub(pending) >= flushDelay {
			if err := h.Flush(); err != nil {
				return err
			}
			pending = time.Time{}
		}
		if !now.Before(nextPoll) {
			s.pollLost()
			nextPoll = now.Add(lostPoll)
		}
	}
}

// pollLost reads the per-CPU count of events the BPF side failed to send,
// the tool's own count if it keeps one, and how often the kernel skipped
// the tool's programs.
func (s *Session) pollLost() {
	s.pollSkipped()
	if s.prog.Lost != nil {
		n, err := s.prog.Lost(s.coll)
		if err != nil {
			s.log.Warn("count lost events", "error", err)
		} else if n > s.lastToolLost {
			s.addLost(&s.counts.Untracked, n-s.lastToolLost)
			s.lastToolLost = n
		}
	}
	m := s.coll.Maps[lostMap]
	if m == nil {
		return
	}
	var perCPU []uint64
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		s.log.Warn("read lost-event counter", "error", err)
		return
	}
	var sum uint64
	for _, n := range perCPU {
		sum += n
	}
	if sum > s.lastLost {
		s.addLost(&s.counts.RingFull, sum-s.lastLost)
		s.lastLost = sum
	}
}

// pollSkipped reads how many times the kernel did not run the tool's
// programs because a BPF program was already running on that CPU (its
// recursion guard: 6.1 counts this for tp_btf and fentry programs, later
// kernels for classic tracepoints too). Each may be a missing
// event, or one the filters would have dropped anyway, so it is reported
// apart from lost events.
func (s *Session) pollSkipped() {
	var sum uint64
	for _, p := range s.coll.Programs {
		st, err := p.Stats()
		if err != nil {
			return // before 5.12: not counted
		}
		sum += st.RecursionMisses
	}
	if sum > s.lastSkipped {
		total := s.counts.Skipped.Add(sum - s.lastSkipped)
		s.lastSkipped = sum
		s.log.Warn("programs skipped by the kernel while a BPF program was already running on the CPU: events may be missing",
			"skipped", total)
	}
}

// addMalformed counts an event the tool could not decode. The first one is
// reported with its error, later ones once a second at most, so that a
// stream of them cannot flood stderr.
func (s *Session) addMalformed(err error) {
	n := s.counts.Malformed.Add(1)
	if now := time.Now(); n == 1 || now.Sub(s.malformedLogged) >= lostPoll {
		s.log.Warn("malformed event dropped", "error", err, "total", n)
		s.malformedLogged = now
	}
}

// addLost adds n lost events to the count of their reason.
func (s *Session) addLost(reason *atomic.Uint64, n uint64) {
	reason.Add(n)
	s.log.Warn("events lost", "lost", n, "total", s.counts.Lost())
}

// Lost returns how many events were lost so far.
func (s *Session) Lost() uint64 { return s.counts.Lost() }

// Skipped returns how many times the kernel skipped one of the tool's
// programs (see pollSkipped).
func (s *Session) Skipped() uint64 { return s.counts.Skipped.Load() }

// Malformed returns how many delivered events the handler dropped as
// malformed.
func (s *Session) Malformed() uint64 { return s.counts.Malformed.Load() }
