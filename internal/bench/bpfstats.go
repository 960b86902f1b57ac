package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The stats pass: one more run of each tracer after the timed rounds, with
// the kernel counting the run time of BPF programs (BPF_ENABLE_STATS,
// 5.8+). It gives what the timed rounds cannot resolve on a noisy machine:
// the time a tracer's programs take per operation of the workload, steady
// to tens of nanoseconds. Counted are the programs loaded between the
// tracer's start and the end of the workload: the tracer's, on a machine
// where nothing else loads BPF meanwhile. Counting costs each program run
// two clock reads, which this includes; the timed rounds run without it.

// programIDs returns the ids of the BPF programs loaded now.
func programIDs() (map[ebpf.ProgramID]bool, error) {
	ids := map[ebpf.ProgramID]bool{}
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return ids, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list BPF programs: %w", err)
		}
		ids[next], id = true, next
	}
}

// bpfStats counts the run time of the programs loaded after it was made,
// from start to stop.
type bpfStats struct {
	before map[ebpf.ProgramID]bool
	on     io.Closer
}

// newBPFStats notes the programs loaded now, before the tracer starts.
func newBPFStats() (*bpfStats, error) {
	ids, err := programIDs()
	if err != nil {
		return nil, err
	}
	return &bpfStats{before: ids}, nil
}

// start turns the kernel's counting on, once the tracer is attached.
func (s *bpfStats) start() error {
	on, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	if err != nil {
		// Before 5.8 the command is unknown (EINVAL): the column says "-".
		return fmt.Errorf("enable BPF stats: %w: %w", ebpf.ErrNotSupported, err)
	}
	s.on = on
	return nil
}

// stop turns the counting off; it may be called more than once.
func (s *bpfStats) stop() {
	if s.on != nil {
		s.on.Close()
		s.on = nil
	}
}

// read returns the run time and runs so far of the programs loaded since
// newBPFStats.
func (s *bpfStats) read() (ns float64, runs uint64, err error) {
	ids, err := programIDs()
	if err != nil {
		return 0, 0, err
	}
	for id := range ids {
		if s.before[id] {
			continue
		}
		p, err := ebpf.NewProgramFromID(id)
		if errors.Is(err, os.ErrNotExist) {
			continue // unloaded meanwhile
		}
		if err != nil {
			return 0, 0, fmt.Errorf("open BPF program %d: %w", id, err)
		}
		st, err := p.Stats()
		p.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("read BPF program %d stats: %w", id, err)
		}
		ns += float64(st.Runtime.Nanoseconds())
		runs += st.RunCount
	}
	return ns, runs, nil
}
