package metrics

import (
	ebrt "github.com/ebtools/ebtools/runtime"
)

// Tool is one tool's part of the metrics: the counts every tool has, kept
// by the runtime session (Counts), and the tool's own.
type Tool struct {
	name   string
	reg    *Registry
	limits Limits
	counts ebrt.Counts
}

// NewTool registers the metrics every tool has with reg, labeled
// tool=name: ebtools_events_total, ebtools_events_lost_total by reason and
// ebtools_up, read from Counts at each scrape.
func NewTool(reg *Registry, name string, limits Limits) *Tool {
	if limits.Groups <= 0 {
		limits.Groups = DefaultGroups
	}
	if limits.Values <= 0 {
		limits.Values = DefaultValues
	}
	t := &Tool{name: name, reg: reg, limits: limits}
	n := &t.counts
	reg.NewRead("ebtools_events_total", "Events read from the kernel side.", true,
		func(emit func(float64, ...string)) { emit(float64(n.Events.Load()), name) }, "tool")
	reg.NewRead("ebtools_events_lost_total", helpLost, true, func(emit func(float64, ...string)) {
		for _, r := range []struct {
			reason string
			v      uint64
		}{
			{ReasonRingFull, n.RingFull.Load()},
			{ReasonUntracked, n.Untracked.Load()},
			{ReasonMalformed, n.Malformed.Load()},
			{ReasonSkipped, n.Skipped.Load()},
			{ReasonUnwritten, n.Unwritten.Load()},
		} {
			emit(float64(r.v), name, r.reason)
		}
	}, "tool", "reason")
	reg.NewRead("ebtools_up", "1 while the tool's programs are attached, else 0.", false,
		func(emit func(float64, ...string)) {
			up := 0.0
			if n.Attached.Load() {
				up = 1
			}
			emit(up, name)
		}, "tool")
	return t
}

// Name returns the tool's name.
func (t *Tool) Name() string { return t.name }

// Counts returns the counts the runtime session keeps (Options.Counts);
// nil for a nil Tool (no --metrics).
func (t *Tool) Counts() *ebrt.Counts {
	if t == nil {
		return nil
	}
	return &t.counts
}

// Lost-event reasons: the reason label of ebtools_events_lost_total.
const (
	ReasonRingFull  = "ring_full"
	ReasonUntracked = "untracked"
	ReasonMalformed = "malformed"
	ReasonSkipped   = "skipped"
	ReasonUnwritten = "unwritten"
)

const helpLost = "Events lost, by reason: ring_full (the kernel side's buffer was full), untracked (the tool's own kernel table lost " +
	"them; tcplife: a session whose start was evicted), malformed (a record that did not decode), skipped (program " +
	"runs the kernel skipped while a BPF program ran on the CPU), unwritten (read, but the output took nothing until the stop)."

// FullName returns the name a tool's own metric is exported under:
// ebtools_<tool>_<name>.
func (t *Tool) FullName(name string) string { return "ebtools_" + t.name + "_" + name }

// CounterVec registers one of the tool's own counters, named
// ebtools_<tool>_<name>, for a tool that bounds its labels itself.
func (t *Tool) CounterVec(name, help string, labels ...string) *CounterVec {
	return t.reg.NewCounterVec(t.FullName(name), help, labels...)
}

// Limits returns the limits of the tool's series.
func (t *Tool) Limits() Limits { return t.limits }
