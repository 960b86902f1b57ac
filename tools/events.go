package tools

import (
	"context"

	"github.com/cilium/ebpf"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
)

// Events is an event tool as the spine runs it: the tool says what is its
// own (program, constants, columns, how one event fills a row), the spine
// does the rest (task filters and columns, provenance, printing).
type Events struct {
	Program ebrt.Program
	Task    *TaskConfig
	// Lineage collects each event's ancestors in the kernel.
	Lineage bool
	// Constants are the tool's own kernel-side settings.
	Constants map[string]any
	// Prepare, if set, fills the tool's maps before the programs attach.
	Prepare func(*ebpf.Collection) error
	// MapSizes overrides the size of the tool's maps, by name.
	MapSizes map[string]uint32
	// Columns are Columns(the tool's own...).
	Columns []output.Column
	// Layout is the default text columns, by index, the free-text one last.
	Layout []int
	// CSV prints comma-separated values.
	CSV bool
	// Fill sets the tool's own columns of r from the event raw (the task
	// columns are set) and reports whether the event is printed.
	Fill func(r *output.Row, raw []byte) (bool, error)
	// Metrics are the tool's own metrics (--metrics), each labeled with
	// the unit and container_id of the event's process as well.
	Metrics []*metrics.Metric
	// Measure, with --metrics, is called for each printed event after Fill,
	// with the event Fill decoded, to add to Metrics through m.
	Measure func(m *metrics.Meter, raw []byte)
}

// treeMap holds the --tree processes (bpf/include/task.bpf.h).
const treeMap = "ebt_tree"

// treeHooks follow forks and exits for --tree (bpf/include/task.bpf.h).
var treeHooks = []ebrt.Hook{
	{Name: "sched_process_fork", Choices: [][]string{{"ebt_tree_fork"}}},
	{Name: "sched_process_exit", Choices: [][]string{{"ebt_tree_exit"}}},
}

// RunEvents loads and attaches ev's program, prints the header once tracing
// has begun and streams events until ctx ends or -d runs out.
func RunEvents(ctx context.Context, env *Env, ev Events) error {
	prog := ev.Program
	consts := ev.Task.Constants(ev.Lineage)
	for k, v := range ev.Constants {
		consts[k] = v
	}
	opts := env.Runtime(consts, ev.Task.Cgroup)
	opts.MapSizes = ev.MapSizes
	if ev.Task.Tree != 0 {
		prog.Hooks = append(append([]ebrt.Hook{}, prog.Hooks...), treeHooks...)
	}
	opts.Prepare = func(coll *ebpf.Collection) error {
		if err := ev.Task.seedTree(coll.Maps[treeMap]); err != nil {
			return err
		}
		if ev.Prepare != nil {
			return ev.Prepare(coll)
		}
		return nil
	}
	h := NewEventHandler(env.Out, env.Format, output.NewClock(), ev)
	h.SetMetrics(env.Metrics)
	s, err := ebrt.Start(ctx, prog, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	if ev.Task.Tree != 0 {
		if err := ev.Task.seedTree(s.Map(treeMap)); err != nil {
			return err
		}
	}
	ctx, cancel := env.Traced(ctx)
	defer cancel()
	if err := h.Header(); err != nil {
		return err
	}
	if err := h.Flush(); err != nil {
		return err
	}
	return s.Run(ctx, h)
}

// EventHandler prints an event tool's events: the runtime's Handler.
type EventHandler struct {
	Printer
	ev    Events
	task  taskRow
	cg    *cgroups.Resolver
	meter *metrics.Meter
}

// NewEventHandler returns the handler RunEvents uses, for tests too.
func NewEventHandler(out *output.Writer, format output.Format, clock *output.Clock, ev Events) *EventHandler {
	opts := output.Options{Time: ev.Task.Time, Clock: clock, CSV: ev.CSV, Order: ev.Task.Order(ev.Layout...)}
	h := &EventHandler{Printer: NewPrinter(out, format, ev.Columns, opts), ev: ev}
	if ev.Task.needCgroups(format) {
		h.cg = cgroups.NewResolver(cgroups.Mountpoint())
	}
	return h
}

// SetCgroups replaces the cgroup resolver (tests).
func (h *EventHandler) SetCgroups(r *cgroups.Resolver) { h.cg = r }

// SetMetrics makes h feed the tool's own metrics to tm for each printed
// event; nil (no --metrics) feeds none.
func (h *EventHandler) SetMetrics(tm *metrics.Tool) {
	if tm == nil || h.ev.Measure == nil {
		return
	}
	h.meter = tm.Meter(h.ev.Metrics)
	if h.cg == nil {
		h.cg = cgroups.NewResolver(cgroups.Mountpoint())
	}
}

// Event implements runtime.Handler.
func (h *EventHandler) Event(raw []byte) error {
	t, anc, err := DecodeTask(raw)
	if err != nil {
		return Malformed(err)
	}
	var cg *cgroups.Info
	if h.cg != nil {
		cg = h.cg.Lookup(t.CgroupId)
	}
	if !h.ev.Task.match(t, cg) {
		return nil
	}
	r := h.Row
	r.Reset(t.KtimeNs)
	h.task.set(r, t, anc, cg)
	keep, err := h.ev.Fill(r, raw)
	if err != nil || !keep {
		return err
	}
	if h.meter != nil {
		var unit, container string
		if cg != nil {
			unit, container = cg.Unit, cg.ContainerID
		}
		h.meter.SetGroup(unit, container, t.KtimeNs)
		h.ev.Measure(h.meter, raw)
	}
	return h.Print()
}
