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
// the kernel counting the run time of every BPF program
// (BPF_ENABLE_STATS). It gives what the timed rounds cannot resolve on a
// noisy machine: the time a tracer's programs take per operation of the
// workload, to the nanosecond, whatever else the machine does. Counting
// costs each program run two clock reads, which this includes; the timed
// rounds run without it.

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

// bpfStats counts program run time from now until Close, for the programs
// loaded after it was made: the tracer's own.
type bpfStats struct {
	before map[ebpf.ProgramID]bool
	on     io.Closer
}

// newBPFStats snapshots the loaded programs, before the tracer starts.
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
		return fmt.Errorf("enable BPF stats: %w", err)
	}
	s.on = on
	return nil
}

// runtime returns the run time and runs of the programs loaded since
// newBPFStats, so far, and stops the counting.
func (s *bpfStats) runtime() (ns float64, runs uint64, err error) {
	defer s.on.Close()
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
