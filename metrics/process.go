package metrics

import (
	"bytes"
	"os"
	goruntime "runtime"
	"runtime/metrics"
	"strconv"

	"golang.org/x/sys/unix"
)

// registerProcess registers the process_* and go_* metrics Prometheus'
// own clients export, under the same names: what an alert on a tracer's
// memory, CPU or descriptors expects. Each is read at the scrape.
func registerProcess(reg *Registry) {
	stat := func(emit func(float64, ...string), field func(*procStat) float64) {
		if st, err := readProcStat(); err == nil {
			emit(field(st))
		}
	}
	reg.NewRead("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", true,
		func(emit func(float64, ...string)) {
			stat(emit, func(s *procStat) float64 { return float64(s.utime+s.stime) / userHZ })
		})
	reg.NewRead("process_resident_memory_bytes", "Resident memory size in bytes.", false,
		func(emit func(float64, ...string)) {
			stat(emit, func(s *procStat) float64 { return float64(s.rss * uint64(os.Getpagesize())) })
		})
	reg.NewRead("process_virtual_memory_bytes", "Virtual memory size in bytes.", false,
		func(emit func(float64, ...string)) { stat(emit, func(s *procStat) float64 { return float64(s.vsize) }) })
	reg.NewRead("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", false,
		func(emit func(float64, ...string)) {
			if bt, err := bootTime(); err == nil {
				stat(emit, func(s *procStat) float64 { return bt + float64(s.starttime)/userHZ })
			}
		})
	reg.NewRead("process_open_fds", "Number of open file descriptors.", false,
		func(emit func(float64, ...string)) {
			if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
				emit(float64(len(ents)))
			}
		})
	reg.NewRead("process_max_fds", "Maximum number of open file descriptors.", false,
		func(emit func(float64, ...string)) {
			var l unix.Rlimit
			if unix.Getrlimit(unix.RLIMIT_NOFILE, &l) == nil {
				emit(float64(l.Cur))
			}
		})
	reg.NewRead("go_info", "Information about the Go environment.", false,
		func(emit func(float64, ...string)) { emit(1, goruntime.Version()) }, "version")
	reg.NewRead("go_goroutines", "Number of goroutines that currently exist.", false,
		func(emit func(float64, ...string)) { emit(float64(goruntime.NumGoroutine())) })
	reg.NewRead("go_threads", "Number of OS threads created.", false,
		func(emit func(float64, ...string)) {
			n, _ := goruntime.ThreadCreateProfile(nil)
			emit(float64(n))
		})
	for _, m := range []struct {
		name, help, key string
		counter         bool
	}{
		{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.", "/memory/classes/heap/objects:bytes", false},
		{"go_memstats_sys_bytes", "Number of bytes obtained from system.", "/memory/classes/total:bytes", false},
		{"go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already.", "/gc/heap/allocs:bytes", true},
		{"go_gc_cycles_total", "Number of completed GC cycles.", "/gc/cycles/total:gc-cycles", true},
	} {
		key := m.key
		reg.NewRead(m.name, m.help, m.counter,
			func(emit func(float64, ...string)) {
				s := []metrics.Sample{{Name: key}}
				metrics.Read(s)
				if s[0].Value.Kind() == metrics.KindUint64 {
					emit(float64(s[0].Value.Uint64()))
				}
			})
	}
}

// userHZ is the unit of /proc's CPU times: USER_HZ, 100 on Linux.
const userHZ = 100

// procStat holds the fields of /proc/self/stat read here.
type procStat struct {
	utime, stime, starttime, vsize, rss uint64
}

// readProcStat parses /proc/self/stat (proc(5)): the fields after the
// command name, which is in parentheses and may hold anything.
func readProcStat() (*procStat, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, os.ErrInvalid
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 22 {
		return nil, os.ErrInvalid
	}
	num := func(n int) uint64 {
		v, _ := strconv.ParseUint(string(f[n-3]), 10, 64)
		return v
	}
	return &procStat{utime: num(14), stime: num(15), starttime: num(22), vsize: num(23), rss: num(24)}, nil
}

// bootTime returns the boot time in seconds since the epoch (btime in
// /proc/stat).
func bootTime() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for _, l := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte("btime ")); ok {
			return strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
		}
	}
	return 0, os.ErrNotExist
}
