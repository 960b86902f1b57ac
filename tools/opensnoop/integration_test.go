package opensnoop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf"
	"github.com/ebtools/ebtools/internal/testutil"
)

// workload is a started helper (see main_test.go) waiting for Go.
type workload struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	pid, tid int
}

func startWorkload(t *testing.T, ops ...string) *workload {
	t.Helper()
	cmd := exec.Command(os.Args[0], ops...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var tid int
	if _, serr := fmt.Sscanf(line, "ready %d", &tid); err != nil || serr != nil {
		t.Fatalf("helper did not get ready: %q %v", line, err)
	}
	return &workload{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid, tid: tid}
}

// Go runs the workload to its end.
func (w *workload) Go(t *testing.T) {
	t.Helper()
	w.stdin.Write([]byte("go\n"))
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}
}

func textRow(pid int, comm string, fd, errno int, path string) string {
	return fmt.Sprintf("%-7d %-16s %3d %3d %s", pid, comm, fd, errno, path)
}

const helperComm = "opensnoop.test"

func TestFullPath(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(dir, link)
	rel := "tmp/../" + dir[1:] + "/f"
	for _, tt := range []struct {
		name  string
		flags []string
		want  []string // the rows' paths: openat(dirfd, "f"), open(rel), open(link/missing)
	}{
		{"as given", nil, []string{"f", rel, link + "/missing"}},
		// -F: the file opened, or the failed one's directory resolved.
		{"-F resolves", []string{"-F"}, []string{dir + "/f", dir + "/f", dir + "/missing"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			eachForced(t, func(t *testing.T, force string) {
				w := startWorkload(t, "openat:"+dir+":f:0", "open:"+rel+":0", "open:"+link+"/missing:0")
				p := startForced(t, force, nil, append([]string{"opensnoop", "-p", strconv.Itoa(w.pid)}, tt.flags...)...)
				w.Go(t)
				p.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "PID") })
				// Rows are taken in the order of their fds (and the failed
				// one last), not as they come: the perf buffer delivers the
				// rows of different CPUs in no fixed order.
				var rows []string
				for len(rows) < 4 {
					rows = append(rows, p.WaitLine(t, func(string) bool { return true }))
				}
				var opened, failed []string
				for _, r := range rows {
					f := strings.Fields(r)
					switch {
					case len(f) != 5:
						t.Errorf("row %q", r)
					case f[4] == dir:
						// the open of DIR itself
					case f[2] == "-1":
						failed = append(failed, r)
					default:
						opened = append(opened, r)
					}
				}
				if len(opened) != 2 || len(failed) != 1 {
					t.Fatalf("rows %q", rows)
				}
				var got []string
				for _, r := range opened {
					fd, _ := strconv.Atoi(strings.Fields(r)[2])
					path := strings.Fields(r)[4]
					if r != textRow(w.pid, helperComm, fd, 0, path) || fd < 3 {
						t.Errorf("opened row %q", r)
					}
					got = append(got, path)
				}
				sort.Strings(got)
				want := append([]string{}, tt.want[:2]...)
				sort.Strings(want)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("opened paths %q, want %q", got, want)
				}
				if want := textRow(w.pid, helperComm, -1, 2, tt.want[2]); failed[0] != want {
					t.Errorf("failed open:\n got %q\nwant %q", failed[0], want)
				}
			})
		})
	}
}

type jsonEvent struct {
	PID, TID, UID, FD, Ret int
	Comm, Syscall          string
	Error                  *string
	Flags                  uint64
	Mode                   *uint32
	Path, Arg              string
	Dirfd                  *int
	PathResolved           bool `json:"path_resolved"`
}

func TestJSONAndFilters(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	missing := dir + "/missing"
	created := dir + "/created"
	ops := []string{
		fmt.Sprintf("open:%s:%d", missing, unix.O_RDONLY),
		fmt.Sprintf("open:%s:%d", created, unix.O_WRONLY|unix.O_CREAT),
	}
	w := startWorkload(t, ops...)
	p := testutil.Start(t, "-o", "json", "opensnoop", "-t", strconv.Itoa(w.tid))
	w.Go(t)
	var e jsonEvent
	decode := func() {
		t.Helper()
		if err := json.Unmarshal([]byte(p.WaitLine(t, func(string) bool { return true })), &e); err != nil {
			t.Fatal(err)
		}
	}
	decode()
	if e.PID != w.pid || e.TID != w.tid || e.FD != -1 || e.Ret != -2 || e.Error == nil || *e.Error != "ENOENT" ||
		e.Path != missing || e.Arg != missing || e.Mode != nil || e.Dirfd != nil || e.Syscall != "openat" {
		t.Errorf("failed open = %+v", e)
	}
	decode()
	if e.FD < 3 || e.Error != nil || e.Flags&(unix.O_WRONLY|unix.O_CREAT) != unix.O_WRONLY|unix.O_CREAT ||
		e.Mode == nil || *e.Mode != 0o640 || e.Path != created {
		t.Errorf("creating open = %+v", e)
	}

	// -x: failed only; -e: FLAGS and MODE; -f: by flag.
	for _, tt := range []struct {
		flags []string
		want  string // suffix of the only row
	}{
		{[]string{"-x"}, fmt.Sprintf(" -1   2 %s", missing)},
		{[]string{"-e", "-f", "O_WRONLY"}, fmt.Sprintf("   0 00000101 0640 %s", created)},
		{[]string{"-f", "O_RDONLY"}, fmt.Sprintf(" -1   2 %s", missing)},
	} {
		t.Run(strings.Join(tt.flags, " "), func(t *testing.T) {
			w := startWorkload(t, ops...)
			p := testutil.Start(t, append([]string{"opensnoop", "-p", strconv.Itoa(w.pid)}, tt.flags...)...)
			w.Go(t)
			p.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "PID") })
			rows, _ := p.Stop(t, syscall.SIGTERM)
			if len(rows) != 1 || !strings.HasSuffix(rows[0], tt.want) {
				t.Errorf("rows = %q, want one ending in %q", rows, tt.want)
			}
		})
	}
}

// TestZeroLoss is the acceptance load: one thread opening and closing as
// fast as it can; every open is printed and none is lost, on the ring
// buffer, with the exit alone and with the entry+exit pair, and (100,000
// opens) on the perf buffer with the pair, as kernels before 5.8 have them.
func TestZeroLoss(t *testing.T) {
	testutil.RequirePrivileged(t)
	eachForced(t, testZeroLoss)
}

func testZeroLoss(t *testing.T, force string) {
	n := testutil.Sized(300000)
	if strings.Contains(force, "perfbuf") {
		// A third of the load will do: the perf buffer wakes the reader
		// for every event, which takes two minutes for 300,000 under the
		// emulated test-kernels guest.
		n = testutil.Sized(100000)
	}
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The rows go to a file, as with `ebtools opensnoop > file`: the
	// test reads them after the run, so that its own reading does not
	// compete with ebtools for the CPU (under emulation, both guest CPUs
	// run on one host thread).
	out, err := os.Create(filepath.Join(t.TempDir(), "rows"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// Under emulation (the test-kernels guests) both guest CPUs run on one
	// host thread, so the reader runs only between the workload's slices:
	// there the opens are paced (testutil.Paced: 100,000 a second, 5,000
	// in an x86 guest on a normal day, so that the ring's ~10,000 events
	// hold two seconds of them) and half as many (testutil.Sized).
	// Unpaced, the exit-only hook let the workload outrun the reader (5 %
	// lost in a 6.12 guest); at 10,000 a second a reader held off for
	// over a second lost 1,645 of 300,000 with the pair (a 6.1 guest).
	// Here, on real CPUs, the full count runs as fast as it can.
	loop := "loop:" + strconv.Itoa(n) + ":" + target
	if rate := testutil.Paced(100000); rate > 0 {
		loop += ":" + strconv.Itoa(rate)
	}
	w := startWorkload(t, loop)
	p := startForced(t, force, out, "opensnoop", "-p", strconv.Itoa(w.pid))
	w.Go(t)
	_, code := p.Stop(t, syscall.SIGTERM)
	b, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	got := 0
	// A path the kernel could not read without a page fault, which a
	// tracing program may not take (its page being moved, as by
	// compaction or a huge page collapse), is marked, never guessed:
	// seen once in 600,000 opens in the 6.1 guest. More than one in
	// 10,000 is a failure.
	unreadable := 0
	var other []string
	for _, l := range rows {
		switch {
		case strings.HasSuffix(l, " "+target):
			got++
		case strings.HasSuffix(l, " 0 (unreadable)"):
			unreadable++
		case len(other) < 10 && !strings.HasPrefix(l, "PID"):
			other = append(other, l)
		}
	}
	if unreadable > 0 {
		t.Logf("%d of %d paths unreadable at the syscall's exit, marked", unreadable, n)
	}
	if got+unreadable != n || unreadable > n/10000 || code != 0 {
		t.Errorf("rows = %d of %d, %d marked unreadable (%d lines in all), exit %d; other lines: %q", got, n, unreadable, len(rows), code, other)
	}
	if !strings.Contains(p.Stderr(), "lost=0 malformed=0") {
		t.Errorf("events lost or dropped:\n%s", p.Stderr())
	}
	if strings.Contains(force, "perfbuf") {
		// The perf buffers get EBT_PERFBUF_SIZE (8 MiB) in all, not the
		// ring's 2 MiB: woken per event, they need it (2 % lost with 2 MiB).
		cpus, err := ebpf.PossibleCPU()
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`perfbuf_kib_per_cpu=(\d+)`).FindStringSubmatch(p.Stderr())
		if m == nil {
			t.Fatalf("no perfbuf_kib_per_cpu in the attached line:\n%s", p.Stderr())
		}
		if kib, _ := strconv.Atoi(m[1]); kib*cpus < 8<<10 {
			t.Errorf("perf buffers of %d KiB on each of %d CPUs, want 8 MiB in all", kib, cpus)
		}
	}
}

// forced are the paths kernels take: the ring buffer and the exit alone
// (5.15+), the ring buffer and the entry+exit pair (5.8 to 5.14: no
// bpf_task_pt_regs), the perf buffer and the pair (before 5.8).
var forced = []string{"", "pair", "perfbuf,pair"}

// eachForced runs f once per setting in forced, each as a subtest named
// after it.
func eachForced(t *testing.T, f func(t *testing.T, force string)) {
	for _, force := range forced {
		t.Run("EBTOOLS_FORCE="+force, func(t *testing.T) { f(t, force) })
	}
}

// startForced starts ebtools with EBTOOLS_FORCE=force, its rows going to
// stdout if it is not nil (else to the test, for WaitLine), and fails the
// test unless it attached as force asks: on the perf buffer or not, and one
// program per syscall (open, openat, openat2; arm64 has no open) at its
// exit alone, or two (entry and exit) under EBTOOLS_FORCE=pair.
func startForced(t *testing.T, force string, stdout *os.File, args ...string) *testutil.Proc {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), append([]string{"--log-level", "info"}, args...)...)
	cmd.Env = append(os.Environ(), "EBTOOLS_FORCE="+force)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	p := testutil.StartCmd(t, cmd)
	_, attached, _ := strings.Cut(p.Stderr(), "attached: ")
	attached, _, _ = strings.Cut(attached, " ms=")
	t.Logf("EBTOOLS_FORCE=%s: attached with %s", force, attached)
	want := 3
	if goruntime.GOARCH == "arm64" {
		want = 2
	}
	if strings.Contains(force, "pair") {
		want *= 2
	}
	perfbuf := fmt.Sprintf(" perfbuf=%v ", strings.Contains(force, "perfbuf"))
	if !strings.Contains(attached, fmt.Sprintf(" programs=%d ", want)) || !strings.Contains(attached+" ", perfbuf) {
		t.Fatalf("EBTOOLS_FORCE=%s: want %d programs attached,%s; stderr:\n%s", force, want, perfbuf, p.Stderr())
	}
	return p
}
