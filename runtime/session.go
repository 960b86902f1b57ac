package runtime

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Map and variable names every ebtools object has (bpf/include/ebtools.bpf.h).
const (
	eventsMap    = "events"
	lostMap      = "lost"
	cgroupMap    = "cgroup_map"
	useRingbuf   = "ebt_use_ringbuf"
	perfbufSize  = "ebt_perfbuf_size"
	wakeupStride = "ebt_wakeup_stride"
	cgroupFilter = "targ_cgroup"
)

// Options configure one run of a tool.
type Options struct {
	// Logger receives the runtime's logs; nil discards them.
	Logger hclog.Logger
	// BTFPath is an external BTF file for kernels without /sys/kernel/btf/vmlinux.
	BTFPath string
	// Constants sets the program's const volatile variables (targ_*) by name.
	Constants map[string]any
	// CgroupPath limits events to tasks in this cgroup v2 directory.
	CgroupPath string
	// Prepare, if set, runs after loading and before attaching, e.g. to
	// fill the tool's filter maps.
	Prepare func(coll *ebpf.Collection) error
	// Interface is the network interface XDP programs attach to.
	Interface string
	// XDPMode is "native", "generic" or "" / "auto" (native where the
	// driver supports it, else generic).
	XDPMode string
	// MapSizes overrides the max_entries of maps, by name.
	MapSizes map[string]uint32
	// DropCapabilities makes Start give up every capability the process
	// no longer needs once attached, on all its threads (see
	// dropCapabilities). Only a process that runs one tool sets it.
	DropCapabilities bool
	// Counts, if set, receives the session's running totals (for a
	// metrics exporter); else the session keeps its own.
	Counts *Counts
}

// Session is a loaded and attached tool.
type Session struct {
	prog    Program
	log     hclog.Logger
	coll    *ebpf.Collection
	perfbuf bool
	// perfSize is the perf buffers' room in all, in bytes, where the
	// events go through them: the object's ebt_perfbuf_size, else the
	// ring's size.
	perfSize   uint32
	perfPerCPU int    // the perf buffer's size per CPU, once open
	reader     reader // nil for tools without an events map

	mu    sync.Mutex // guards links: Run detaches from another goroutine
	links []link.Link

	methods         []string // attach methods used, in order of first use
	counts          *Counts  // delivered, lost, malformed and skipped events
	malformedLogged time.Time
	lastSkipped     uint64
	lastLost        uint64 // last value of the BPF-side counter
	lastToolLost    uint64 // last value of prog.Lost
}

// loadGCPercent is GOGC while a program is loaded.
const loadGCPercent = 20

// Start checks preconditions, loads prog with opts and attaches it. The
// caller must Close the session.
func Start(ctx context.Context, prog Program, opts Options) (*Session, error) {
	began := time.Now()
	// Loading decodes the kernel's BTF and copies the object, garbage
	// that would double the heap before a collection at the default
	// GOGC: collected sooner, it peaks at (measured) 6 MB instead of 11.
	gcPercent := debug.SetGCPercent(loadGCPercent)
	s, chosen, err := load(prog, opts)
	debug.SetGCPercent(gcPercent)
	if err != nil {
		return nil, err
	}
	// What loading left behind (the kernel's BTF decoded, the object's
	// copies) goes back to the OS before the ring is mapped, so that the
	// peak RSS is the larger of the two, not their sum.
	debug.FreeOSMemory()
	if err := s.setCgroup(opts.CgroupPath); err != nil {
		s.Close()
		return nil, err
	}
	if opts.Prepare != nil {
		if err := opts.Prepare(s.coll); err != nil {
			s.Close()
			return nil, err
		}
	}
	// The reader exists before any program runs: a perf event array has no
	// buffers to write to until it is opened.
	if s.coll.Maps[eventsMap] != nil {
		if s.reader, err = s.newReader(); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.attach(chosen, opts); err != nil {
		s.Close()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		s.Close()
		return nil, err
	}
	s.counts.Attached.Store(true)
	caps := "kept"
	if opts.DropCapabilities {
		kept, err := dropCapabilities(probeBPF(s.coll))
		if err != nil {
			s.log.Warn("could not give up capabilities after attaching", "error", err)
		} else {
			caps = kept.String()
		}
	}
	fields := []any{"tool", prog.Name, "programs", len(s.links), "methods", strings.Join(s.methods, ","),
		"perfbuf", s.perfbuf, "caps", caps, "ms", time.Since(began).Milliseconds()}
	if s.perfbuf {
		fields = append(fields, "perfbuf_kib_per_cpu", s.perfPerCPU>>10)
	}
	s.log.Info("attached", fields...)
	return s, nil
}

// Plan is how a tool would run here.
type Plan struct {
	// How each hook would attach, e.g. "execve: tracepoint".
	How []string
	// Capabilities are what a user other than root needs to run it here:
	// Program.Capabilities, and for tracepoints CAP_DAC_READ_SEARCH where
	// tracefs is root's only and CAP_SYS_ADMIN where this kernel opens perf
	// events only for it.
	Capabilities []Capability
}

// Check loads prog as Start would, without attaching, and returns how it
// would run.
func Check(prog Program, opts Options) (Plan, error) {
	s, chosen, err := load(prog, opts)
	if err != nil {
		return Plan{}, err
	}
	defer s.Close()
	p := Plan{Capabilities: prog.Capabilities()}
	tracepoints := false
	for _, c := range chosen {
		p.How = append(p.How, fmt.Sprintf("%s: %s", c.hook, c.methods[0]))
		tracepoints = tracepoints || slices.Contains(c.methods, methodTracepoint)
	}
	if root, _, err := Tracefs(); tracepoints {
		if err != nil || !tracefsWorldReadable(root) {
			p.Capabilities = append(p.Capabilities, CapDACReadSearch)
		}
		if err == nil && perfEventsNeedSysAdmin(root) {
			p.Capabilities = append(p.Capabilities, CapSysAdmin)
		}
	}
	return p, nil
}

// load runs every step of Start up to loading the collection.
func load(prog Program, opts Options) (*Session, []choice, error) {
	began := time.Now()
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Session{prog: prog, log: log, counts: opts.Counts}
	if s.counts == nil {
		s.counts = &Counts{}
	}
	if err := CheckPrivileges(prog); err != nil {
		return nil, nil, err
	}
	f, err := forceFromEnv()
	if err != nil {
		return nil, nil, err
	}
	k, err := newKernel(opts.BTFPath)
	if err != nil {
		return nil, nil, err
	}
	log.Debug("kernel BTF loaded", "ms", time.Since(began).Milliseconds())
	base, err := prog.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("load %s object: %w", prog.Name, err)
	}
	var chosen []choice
	// Each failed try rules out one BTF-attached program's method, so
	// there are at most as many tries as such programs.
	for try := 0; ; try++ {
		spec := base.Copy()
		var pruned []string
		chosen, pruned, err = resolve(spec, prog, k, f)
		if err != nil {
			return nil, nil, withTool(err, prog.Name)
		}
		if try == 0 {
			for _, p := range pruned {
				log.Debug("hook pruned", "hook", p)
			}
			if k.mountedTracefs != "" {
				log.Info("tracefs was not mounted: mounted it", "path", k.mountedTracefs)
			}
			log.Debug("hooks resolved", "ms", time.Since(began).Milliseconds())
		}
		keepPrograms(spec, chosen)
		if err := s.configure(spec, opts, f); err != nil {
			return nil, nil, err
		}
		s.coll, err = ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
			Programs: ebpf.ProgramOptions{KernelTypes: k.btf},
			Cache:    k.cache,
		})
		if err == nil {
			break
		}
		if !k.ruleOut(chosen, err) {
			return nil, nil, s.loadError(err)
		}
		log.Debug("falling back after a failed load", "error", err)
	}
	log.Debug("programs loaded", "ms", time.Since(began).Milliseconds())
	return s, chosen, nil
}

// keepPrograms drops every program that no chosen hook uses, so the kernel
// never sees programs for attach points it lacks.
func keepPrograms(spec *ebpf.CollectionSpec, chosen []choice) {
	keep := map[string]bool{}
	for _, c := range chosen {
		for _, p := range c.programs {
			keep[p] = true
		}
	}
	for name := range spec.Programs {
		if !keep[name] {
			delete(spec.Programs, name)
		}
	}
}

// configure picks the event transport and sets the constants.
func (s *Session) configure(spec *ebpf.CollectionSpec, opts Options, f force) error {
	if ev := spec.Maps[eventsMap]; ev != nil {
		s.perfbuf = f.perfbuf || features.HaveMapType(ebpf.RingBuf) != nil
		s.perfSize = ev.MaxEntries
		if v := spec.Variables[perfbufSize]; v != nil {
			if err := v.Get(&s.perfSize); err != nil {
				return fmt.Errorf("read %q: %w", perfbufSize, err)
			}
		}
		if s.perfbuf {
			ev.Type, ev.KeySize, ev.ValueSize, ev.MaxEntries = ebpf.PerfEventArray, 4, 4, 0
			if err := setVar(spec, useRingbuf, false); err != nil {
				return err
			}
		}
	}
	for name, v := range opts.Constants {
		if err := setVar(spec, name, v); err != nil {
			return err
		}
	}
	for name, n := range opts.MapSizes {
		m := spec.Maps[name]
		if m == nil {
			return fmt.Errorf("size map %q: no such map in the object", name)
		}
		m.MaxEntries = n
	}
	if ev := spec.Maps[eventsMap]; ev != nil && !s.perfbuf && spec.Variables[wakeupStride] != nil {
		cpus, err := ebpf.PossibleCPU()
		if err != nil {
			return fmt.Errorf("count CPUs: %w", err)
		}
		if err := setVar(spec, wakeupStride, wakeupStrideFor(ev.MaxEntries, cpus)); err != nil {
			return err
		}
	}
	if opts.CgroupPath != "" {
		if spec.Maps[cgroupMap] == nil {
			return fmt.Errorf("set cgroup filter: %s has no cgroup filter", s.prog.Name)
		}
		return setVar(spec, cgroupFilter, true)
	}
	return nil
}

// wakeupStrideFor is how many bytes each of cpus CPUs writes into a ring of
// size bytes between two looks at its fill (ebt_wakeup_flag): together, a
// sixteenth of the ring.
func wakeupStrideFor(size uint32, cpus int) uint32 {
	return size / 16 / uint32(max(cpus, 1))
}

func setVar(spec *ebpf.CollectionSpec, name string, v any) error {
	vs := spec.Variables[name]
	if vs == nil {
		return fmt.Errorf("set %q: no such variable in the object", name)
	}
	if err := vs.Set(v); err != nil {
		return fmt.Errorf("set %q: %w", name, err)
	}
	return nil
}

// setCgroup puts the cgroup v2 directory's fd into cgroup_map.
func (s *Session) setCgroup(path string) error {
	if path == "" {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %q: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err == nil && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("open cgroup %q: not a cgroup v2 directory (mounted cgroup2 is usually /sys/fs/cgroup or /sys/fs/cgroup/unified)", path)
	}
	if err := s.coll.Maps[cgroupMap].Put(uint32(0), uint32(fd)); err != nil {
		return fmt.Errorf("set cgroup %q: %w", path, err)
	}
	return nil
}

func (s *Session) attach(chosen []choice, opts Options) error {
	for _, c := range chosen {
		for i, name := range c.programs {
			m, target := c.methods[i], c.targets[i]
			var l link.Link
			var err error
			if m == methodXDP {
				l, err = s.attachXDP(s.coll.Programs[name], opts.Interface, opts.XDPMode)
				if err != nil {
					return err
				}
				s.links = append(s.links, l)
				s.usedMethod(m)
				continue
			}
			l, err = attachOne(s.coll.Programs[name], m, target)
			if err != nil {
				if perr := perfEventPermission(err, s.prog.Name); perr != nil {
					return perr
				}
				return fmt.Errorf("attach %s %q for %s: %w", m, target, c.hook, err)
			}
			s.links = append(s.links, l)
			s.usedMethod(m)
			s.log.Debug("attached", "hook", c.hook, "program", name, "method", m.String(), "target", target)
		}
	}
	return nil
}

func (s *Session) usedMethod(m method) {
	if !slices.Contains(s.methods, m.String()) {
		s.methods = append(s.methods, m.String())
	}
}

func attachOne(p *ebpf.Program, m method, target string) (link.Link, error) {
	switch m {
	case methodTracepoint:
		group, name, _ := strings.Cut(target, "/")
		return link.Tracepoint(group, name, p, nil)
	case methodTPBTF, methodFentry, methodFexit:
		return link.AttachTracing(link.TracingOptions{Program: p})
	case methodRawTracepoint:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: target, Program: p})
	case methodKprobe:
		return link.Kprobe(target, p, nil)
	case methodKretprobe:
		return link.Kretprobe(target, p, nil)
	}
	return nil, fmt.Errorf("attach method %d: %w", m, errors.ErrUnsupported)
}

// Map returns one of the tool's maps by name, or nil.
func (s *Session) Map(name string) *ebpf.Map { return s.coll.Maps[name] }

// detach closes every link: no new events after it returns.
func (s *Session) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts.Attached.Store(false)
	for _, l := range s.links {
		if err := l.Close(); err != nil {
			s.log.Warn("detach", "error", err)
		}
	}
	s.links = nil
}

// Close detaches and unloads everything. It is safe to call twice.
func (s *Session) Close() error {
	s.detach()
	if s.reader != nil {
		s.reader.Close()
		s.reader = nil
	}
	if s.coll != nil {
		s.coll.Close()
		s.coll = nil
	}
	return nil
}
