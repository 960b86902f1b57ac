// Command bench measures what ebtools costs a traced workload and whether it
// misses events, next to libbpf-tools (and bpftrace for unlinks), in one
// interleaved run. It is what `make bench` runs, as root:
//
//	go run ./internal/bench [-rounds 3] [-out results]
//
// It prints a Markdown table and saves it under -out.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
)

// self is this program, which runs the workloads and the floor programs.
var self string

func main() {
	var err error
	if self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if len(os.Args) > 1 && (os.Args[1] == "workload" || os.Args[1] == "floor") {
		sub := map[string]func([]string) error{"workload": runWorkload, "floor": runFloor}[os.Args[1]]
		if err := sub(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// tracer is one way of watching a workload.
type tracer struct {
	name string
	// args builds the command line; nil means no tracer (the baseline).
	args func(ebtools string) []string
	// ready reports, from stdout and stderr so far, that it is attached.
	ready func(stdout, stderr []byte) bool
	// lost parses the events the tracer said it lost.
	lost func(stdout, stderr []byte) int
	// captured, if set, counts the events it saw, for a tracer that
	// prints none (else: its rows with the workload's marker).
	captured func(stdout, stderr []byte) int
	// floor tracers print nothing: only their cost counts.
	floor bool
}

type scenario struct {
	workload string
	n        int
	expected func(n int) int // rows the tracer should print
	tracers  []tracer
	// busy is how many busy loops hold CPUs while the workload runs (and
	// the tracer reads): 0 for a quiet machine.
	busy int
}

// name is how the report and -only call sc.
func (sc scenario) name() string {
	if sc.busy > 0 {
		return fmt.Sprintf("%s-busy%d", sc.workload, sc.busy)
	}
	return sc.workload
}

var (
	ebtoolsLost   = regexp.MustCompile(`stopped: .* lost=(\d+)`)
	ebtoolsEvents = regexp.MustCompile(`stopped: .* events=(\d+)`)
	lostLines     = regexp.MustCompile(`(?i)lost (\d+) events`)
)

func ebtoolsTracer(tool, format string, flags ...string) tracer {
	return tracer{
		name: strings.Join(append([]string{"ebtools " + tool + map[string]string{"text": "", "json": " -o json", "none": " -o none"}[format]}, flags...), " "),
		args: func(bin string) []string {
			return append([]string{bin, "--log-level", "info", "-o", format, tool}, flags...)
		},
		ready: ebtoolsReady,
		lost:  ebtoolsLostEvents,
	}
}

// ebtoolsMetrics is ebtools with --metrics and no output: what it saw is
// the events it read (those of every process, the workload's and a few
// more).
func ebtoolsMetrics(tool string) tracer {
	tr := ebtoolsTracer(tool, "none", "--metrics", "127.0.0.1:0")
	tr.captured = func(_, stderr []byte) int {
		if m := ebtoolsEvents.FindSubmatch(stderr); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			return n
		}
		return -1
	}
	return tr
}

// otherEbtools is ebtoolsTracer for another build of ebtools, at bin.
func otherEbtools(bin, tool, format string) tracer {
	tr := ebtoolsTracer(tool, format)
	tr.name = filepath.Base(bin) + " " + strings.TrimPrefix(tr.name, "ebtools ")
	tr.args = func(string) []string { return []string{bin, "--log-level", "info", "-o", format, tool} }
	return tr
}

func ebtoolsReady(_, stderr []byte) bool { return bytes.Contains(stderr, []byte("attached: tool=")) }

func ebtoolsLostEvents(_, stderr []byte) int {
	if m := ebtoolsLost.FindSubmatch(stderr); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	return -1
}

func sumLost(stdout, stderr []byte) int {
	n := 0
	for _, b := range [][]byte{stdout, stderr} {
		for _, m := range lostLines.FindAllSubmatch(b, -1) {
			k, _ := strconv.Atoi(string(m[1]))
			n += k
		}
	}
	return n
}

// libbpfTool runs a libbpf-tools binary with line-buffered stdout, so its
// header (printed once attached) shows when it is ready.
func libbpfTool(name string) tracer {
	return tracer{
		name:  "libbpf-tools " + name,
		args:  func(string) []string { return []string{"stdbuf", "-oL", "/usr/sbin/" + name} },
		ready: func(stdout, _ []byte) bool { return bytes.Contains(stdout, []byte("\n")) },
		lost:  sumLost,
	}
}

var bpftraceUnlink = tracer{
	name: "bpftrace sys_enter_unlinkat",
	args: func(string) []string {
		return []string{"bpftrace", "-e", `tracepoint:syscalls:sys_enter_unlinkat { printf("%d %s %s\n", pid, comm, str(args->pathname)); }`}
	},
	ready: func(stdout, _ []byte) bool { return bytes.Contains(stdout, []byte("Attaching")) },
	lost:  sumLost,
}

var baseline = tracer{name: "baseline (no tracer)"}

// scenarios are the workloads and their tracers; compare, if set, is
// another ebtools build whose text rows run next to this one's.
func scenarios(compare string) []scenario {
	one := func(n int) int { return n }
	tracers := func(tool string, ref tracer) []tracer {
		trs := []tracer{baseline, ebtoolsTracer(tool, "text"), ebtoolsTracer(tool, "json")}
		if compare != "" {
			trs = append(trs, otherEbtools(compare, tool, "text"))
		}
		return append(trs, ref)
	}
	return []scenario{
		// The floor rows first: the least any tracer on these hooks costs.
		// --print-lineage: what collecting the ancestors costs; --metrics:
		// what counting the events for Prometheus costs, with and without
		// printing them.
		{"openclose", 200000, one, append(append([]tracer{baseline, floorTracer("exit"), floorTracer("pair")},
			tracers("opensnoop", libbpfTool("opensnoop"))[1:]...), ebtoolsTracer("opensnoop", "text", "--print-lineage"),
			ebtoolsTracer("opensnoop", "text", "--metrics", "127.0.0.1:0"), ebtoolsMetrics("opensnoop")), 0},
		// The loss test of issue 17: 300,000 opens while a busy loop holds
		// each CPU, so the reader competes for the CPU with them and with
		// the traced thread.
		{workload: "openclose", n: 300000, expected: one, busy: numCPU(), tracers: tracers("opensnoop", libbpfTool("opensnoop"))},
		{"exec", 1000, one, tracers("execsnoop", libbpfTool("execsnoop")), 0},
		{"unlink", 50000, one, tracers("unlinksnoop", bpftraceUnlink), 0},
		{"tcp", 2000, func(n int) int { return 2 * n }, tracers("tcplife", libbpfTool("tcplife")), 0},
	}
}

// result is one tracer's measurement in one round.
type result struct {
	nsPerOp        float64
	captured, lost int
	cpu            time.Duration
	rssKB          int64
	attach         time.Duration
	// The stats pass only: the tracer's BPF programs' run time and runs.
	bpfNs   float64
	bpfRuns uint64
}

func run() error {
	rounds := flag.Int("rounds", 3, "interleaved rounds; medians are reported")
	outDir := flag.String("out", "results", "folder for the Markdown report")
	only := flag.String("only", "", "run only this workload (openclose, openclose-busyN, exec, unlink, tcp, ipcount)")
	compare := flag.String("compare", "", "also run the ebtools `BINARY` (another version), next to this one")
	micro := flag.Bool("micro", true, "run the decode+format benchmarks too")
	flag.Parse()
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: the tracers load BPF programs")
	}
	if err := ensureReferences(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ebtools-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "ebtools")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/ebtools").CombinedOutput(); err != nil {
		return fmt.Errorf("build ebtools: %v\n%s", err, out)
	}
	// First, as it is quick and fails fast: the decode+format benchmarks.
	var microReport string
	if *micro {
		if microReport, err = microbench(); err != nil {
			return err
		}
	}

	var report strings.Builder
	fmt.Fprintf(&report, "# ebtools bench, %s\n\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&report, "Kernel %s, %d CPUs; %d interleaved rounds, medians (captured: the worst round); "+
		"BPF ns/op from one more run with the kernel's BPF stats on.\n\n", kernel(), numCPU(), *rounds)
	fmt.Fprintln(&report, "| workload | tracer | ns/op | slowdown | captured / expected | lost | tracer CPU s | peak RSS MB | start to attached ms | BPF ns/op |")
	fmt.Fprintln(&report, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	port := 20000
	noStats := false
	for _, sc := range scenarios(*compare) {
		if *only != "" && sc.name() != *only {
			continue
		}
		results := make([][]result, len(sc.tracers))
		for r := 0; r < *rounds; r++ {
			for i, tr := range sc.tracers {
				res, err := measure(bin, tmp, sc, tr, nextMarker(sc, fmt.Sprint(r), i, &port), false)
				if err != nil {
					return fmt.Errorf("%s under %s: %w", sc.workload, tr.name, err)
				}
				results[i] = append(results[i], res)
				fmt.Fprintf(os.Stderr, "round %d %-10s %-32s %8.0f ns/op captured %d/%d lost %d\n",
					r+1, sc.name(), tr.name, res.nsPerOp, res.captured, sc.expected(sc.n), res.lost)
			}
		}
		// The stats pass, after the timed rounds; "-" where the kernel
		// has no BPF stats (before 5.8).
		bpfNs := make([]string, len(sc.tracers))
		for i, tr := range sc.tracers {
			bpfNs[i] = "-"
			if tr.args == nil || noStats {
				continue
			}
			res, err := measure(bin, tmp, sc, tr, nextMarker(sc, "s", i, &port), true)
			if errors.Is(err, ebpf.ErrNotSupported) {
				fmt.Fprintf(os.Stderr, "no BPF ns/op: %v\n", err)
				noStats = true
				continue
			}
			if err != nil {
				return fmt.Errorf("%s under %s, BPF stats: %w", sc.workload, tr.name, err)
			}
			bpfNs[i] = fmt.Sprintf("%.0f", res.bpfNs/float64(sc.n))
			fmt.Fprintf(os.Stderr, "stats   %-10s %-32s %8s BPF ns/op in %d runs\n", sc.name(), tr.name, bpfNs[i], res.bpfRuns)
		}
		base := median(results[0], func(r result) float64 { return r.nsPerOp })
		for i, tr := range sc.tracers {
			rs := results[i]
			ns := median(rs, func(r result) float64 { return r.nsPerOp })
			row := fmt.Sprintf("| %s | %s | %.0f | %.2fx |", sc.name(), tr.name, ns, ns/base)
			switch {
			case tr.args == nil:
				row += " - | - | - | - | - | - |"
			case tr.floor:
				row += fmt.Sprintf(" - | - | - | - | - | %s |", bpfNs[i])
			default:
				worst, maxLost := rs[0].captured, rs[0].lost
				for _, r := range rs {
					worst = min(worst, r.captured)
					maxLost = max(maxLost, r.lost)
				}
				exp := sc.expected(sc.n)
				row += fmt.Sprintf(" %d / %d (%.1f %%) | %d | %.2f | %.1f | %.0f | %s |", worst, exp, 100*float64(worst)/float64(exp), maxLost,
					median(rs, func(r result) float64 { return r.cpu.Seconds() }),
					median(rs, func(r result) float64 { return float64(r.rssKB) / 1024 }),
					median(rs, func(r result) float64 { return float64(r.attach.Milliseconds()) }),
					bpfNs[i])
			}
			fmt.Fprintln(&report, row)
		}
	}
	if microReport != "" {
		report.WriteString("\n" + microReport)
	}
	if *only == "" || *only == "ipcount" {
		ipc, err := ipcountBench()
		if err != nil {
			return err
		}
		report.WriteString("\n" + ipc)
	}
	fmt.Print(report.String())
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(*outDir, "bench-"+time.Now().UTC().Format("20060102-150405")+".md")
	if err := os.WriteFile(name, []byte(report.String()), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "saved", name)
	return nil
}

// nextMarker returns the marker of one run of tracer i in round (a round
// number, or "s" for the stats pass): unique, or for tcp the next port,
// which the workload listens on.
func nextMarker(sc scenario, round string, i int, port *int) string {
	*port++
	if sc.workload == "tcp" {
		return strconv.Itoa(*port)
	}
	return fmt.Sprintf("ebtbench%s%d%d", round, i, time.Now().UnixNano()%1000000)
}

// measure runs one workload under one tracer; with stats, it counts the
// run time of the tracer's BPF programs (see bpfstats.go).
func measure(ebtools, tmp string, sc scenario, tr tracer, marker string, stats bool) (result, error) {
	var res result
	var cmd *exec.Cmd
	var stdout, stderr *os.File
	var bs *bpfStats
	if stats {
		var err error
		if bs, err = newBPFStats(); err != nil {
			return res, err
		}
	}
	if tr.args != nil {
		var err error
		if stdout, err = os.CreateTemp(tmp, "out-"); err != nil {
			return res, err
		}
		defer stdout.Close()
		if stderr, err = os.CreateTemp(tmp, "err-"); err != nil {
			return res, err
		}
		defer stderr.Close()
		args := tr.args(ebtools)
		cmd = exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		began := time.Now()
		if err := cmd.Start(); err != nil {
			return res, err
		}
		for !tr.ready(readFile(stdout.Name()), readFile(stderr.Name())) {
			if time.Since(began) > 30*time.Second {
				cmd.Process.Kill()
				return res, fmt.Errorf("not attached after 30 s: %s", readFile(stderr.Name()))
			}
			time.Sleep(2 * time.Millisecond)
		}
		res.attach = time.Since(began)
		if bs != nil {
			if err := bs.start(); err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				return res, err
			}
			defer bs.stop()
		}
	}
	for range sc.busy {
		hog := exec.Command("/bin/sh", "-c", "while :; do :; done")
		if err := hog.Start(); err != nil {
			return res, fmt.Errorf("start busy loop: %w", err)
		}
		defer func() { hog.Process.Kill(); hog.Wait() }()
	}
	wl := exec.Command(self, "workload", sc.workload, strconv.Itoa(sc.n))
	wl.Env = append(os.Environ(), markerEnv+"="+marker)
	out, err := wl.Output()
	if err != nil {
		if cmd != nil {
			cmd.Process.Kill()
		}
		return res, fmt.Errorf("workload: %w", err)
	}
	res.nsPerOp, _ = strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if cmd == nil {
		return res, nil
	}
	if bs != nil {
		res.bpfNs, res.bpfRuns, err = bs.read()
		bs.stop()
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return res, err
		}
	}
	time.Sleep(300 * time.Millisecond) // the last events through the buffers
	// The tracer's own peak RSS: wait4's ru_maxrss would include the memory
	// of this process, shared with the child between fork and exec.
	res.rssKB = vmHWM(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	o, e := readFile(stdout.Name()), readFile(stderr.Name())
	res.captured = countLines(o, []byte(marker))
	if tr.captured != nil {
		res.captured = tr.captured(o, e)
	}
	if tr.lost != nil {
		res.lost = tr.lost(o, e)
	}
	return res, nil
}

// vmHWM returns a process's peak resident set in KiB.
func vmHWM(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func readFile(name string) []byte {
	b, _ := os.ReadFile(name)
	return b
}

func countLines(b, marker []byte) int {
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), marker) {
			n++
		}
	}
	return n
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// ensureReferences installs libbpf-tools and bpftrace if they are missing.
func ensureReferences() error {
	if _, err := os.Stat("/usr/sbin/opensnoop"); err == nil {
		if _, err := exec.LookPath("bpftrace"); err == nil {
			return nil
		}
	}
	fmt.Fprintln(os.Stderr, "bench: installing libbpf-tools and bpftrace with apt-get")
	if out, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v\n%s", err, out)
	}
	cmd := exec.Command("apt-get", "install", "-y", "-qq", "libbpf-tools", "bpftrace")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install libbpf-tools bpftrace: %v\n%s", err, out)
	}
	return nil
}

func kernel() string {
	var u syscall.Utsname
	syscall.Uname(&u)
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return bytes.Count(b, []byte("processor\t:"))
}

// microbench runs the decode+format benchmarks of every tool.
func microbench() (string, error) {
	out, err := exec.Command("go", "test", "-run", "^$", "-bench", "BenchmarkEvent", "-benchmem", "./tools/...").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	var b strings.Builder
	b.WriteString("Decode + format per event (`go test -bench BenchmarkEvent -benchmem ./tools/...`):\n\n")
	b.WriteString("| tool | format | ns/event | allocs/event |\n| --- | --- | ---: | ---: |\n")
	pkg := ""
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && f[0] == "pkg:":
			pkg = filepath.Base(f[1])
		case len(f) >= 8 && strings.HasPrefix(f[0], "BenchmarkEvent"):
			// BenchmarkEvent/text, BenchmarkEventMetrics/text (--metrics on)
			name, format, _ := strings.Cut(strings.TrimSuffix(f[0], "-"+strconv.Itoa(numCPU())), "/")
			if strings.TrimPrefix(name, "BenchmarkEvent") == "Metrics" {
				format += " --metrics"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", pkg, format, f[2], f[6])
		}
	}
	return b.String(), nil
}
