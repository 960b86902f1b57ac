package runtime

import "sync/atomic"

// Counts are a session's running totals. The session updates them as it
// runs; any goroutine may read them meanwhile (a metrics exporter does, on
// each scrape).
type Counts struct {
	// Events are the records read from the kernel side.
	Events atomic.Uint64
	// RingFull are events the kernel side could not hand over: its ring
	// (or perf) buffer was full.
	RingFull atomic.Uint64
	// Untracked are events the tool's own kernel-side table lost
	// (Program.Lost; tcplife: a session whose start was evicted).
	Untracked atomic.Uint64
	// Malformed are records the tool could not decode, dropped.
	Malformed atomic.Uint64
	// Skipped are program runs the kernel skipped (its recursion guard;
	// see Session.Skipped).
	Skipped atomic.Uint64
	// Unwritten are events read but never written: the output took
	// nothing until the stop.
	Unwritten atomic.Uint64
	// Attached is true from the moment the programs are attached until
	// they are detached.
	Attached atomic.Bool
}

// Lost is every event lost for any reason but a malformed record or a
// skipped run: what the "lost" of the logs counts.
func (c *Counts) Lost() uint64 {
	return c.RingFull.Load() + c.Untracked.Load() + c.Unwritten.Load()
}
