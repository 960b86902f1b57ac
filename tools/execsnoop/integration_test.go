package execsnoop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
)

// The privileged tests run the real binary, filtered in the kernel to
// children of this test process (-P), so other activity cannot reach them.

func selfFilter() []string { return []string{"-P", strconv.Itoa(os.Getpid())} }

// textRow is how libbpf-tools' execsnoop prints a row.
func textRow(comm string, pid, ppid, ret int, args string) string {
	return fmt.Sprintf("%-16s %-6d %-6d %3d %s", comm, pid, ppid, ret, args)
}

func runWorkload(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("workload %s: %v", name, err)
	}
	return cmd.Process.Pid
}

func runFexecve(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=fexecve")
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "via-fexecve" {
		t.Fatalf("fexecve helper: %v, output %q", err, out)
	}
	return cmd.Process.Pid
}

func TestTextRows(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.EachForced(t, testTextRows)
}

func testTextRows(t *testing.T, force string) {
	p := testutil.StartForced(t, force, append([]string{"execsnoop", "-x"}, selfFilter()...)...)
	me := os.Getpid()

	header := p.WaitLine(t, func(string) bool { return true })
	if want := "PCOMM            PID    PPID   RET ARGS"; header != want {
		t.Fatalf("header = %q, want %q", header, want)
	}

	pid := runWorkload(t, "/bin/true", "arg-one", "arg-two")
	want := textRow("true", pid, me, 0, "/bin/true arg-one arg-two")
	if got := p.WaitLine(t, func(l string) bool { return strings.Contains(l, " "+strconv.Itoa(pid)+" ") }); got != want {
		t.Errorf("plain exec:\n got %q\nwant %q", got, want)
	}

	// A newline in an argument must not start a second row.
	pid = runWorkload(t, "/bin/echo", "two\nlines", "esc\x1b[31m")
	want = textRow("echo", pid, me, 0, `/bin/echo two\nlines esc\x1b[31m`)
	if got := p.WaitLine(t, func(l string) bool { return strings.Contains(l, " "+strconv.Itoa(pid)+" ") }); got != want {
		t.Errorf("newline argument:\n got %q\nwant %q", got, want)
	}

	// A failed exec (-x): the forked child still has the test's comm.
	if err := exec.Command("/nonexistent/ebtools-test").Run(); err == nil {
		t.Fatal("exec of a missing file succeeded")
	}
	got := p.WaitLine(t, func(l string) bool { return strings.Contains(l, "/nonexistent/ebtools-test") })
	f := strings.Fields(got)
	if len(f) != 5 || f[2] != strconv.Itoa(me) || f[3] != "-2" || f[4] != "/nonexistent/ebtools-test" {
		t.Errorf("failed exec row = %q, want PPID %d, RET -2, ARGS /nonexistent/ebtools-test", got, me)
	}

	// fexecve(3) is execveat(fd, "", AT_EMPTY_PATH): ARGS falls back to argv.
	pid = runFexecve(t)
	got = p.WaitLine(t, func(l string) bool { return strings.Contains(l, "via-fexecve") })
	if want := textRow("echo", pid, me, 0, "echo via-fexecve"); got != want {
		t.Errorf("fexecve:\n got %q\nwant %q", got, want)
	}

	rest, code := p.Stop(t, syscall.SIGTERM)
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0; stderr:\n%s", code, p.Stderr())
	}
	for _, l := range rest {
		if strings.Contains(l, "ebtools-test") {
			t.Errorf("unexpected row after stop: %q", l)
		}
	}
	if !strings.Contains(p.Stderr(), "lost=0") {
		t.Errorf("no lost=0 summary in stderr:\n%s", p.Stderr())
	}
}

type jsonEvent struct {
	Time          string   `json:"time"`
	KtimeNs       uint64   `json:"ktime_ns"`
	UID           uint32   `json:"uid"`
	Comm          string   `json:"comm"`
	PID           int      `json:"pid"`
	PPID          int      `json:"ppid"`
	Ret           int      `json:"ret"`
	TID           int      `json:"tid"`
	Syscall       string   `json:"syscall"`
	Filename      string   `json:"filename"`
	Args          []string `json:"args"`
	ArgsTruncated bool     `json:"args_truncated"`
}

func TestJSONRows(t *testing.T) {
	testutil.RequirePrivileged(t)
	p := testutil.Start(t, append([]string{"-o", "json", "execsnoop", "-x"}, selfFilter()...)...)
	me := os.Getpid()
	started := time.Now()

	decode := func(l string) jsonEvent {
		var e jsonEvent
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("invalid JSON line %q: %v", l, err)
		}
		return e
	}
	pidIs := func(pid int) func(string) bool {
		return func(l string) bool { return decode(l).PID == pid }
	}

	pid := runWorkload(t, "/bin/echo", "arg-one", "two\nlines")
	e := decode(p.WaitLine(t, pidIs(pid)))
	want := jsonEvent{Time: e.Time, KtimeNs: e.KtimeNs, UID: 0, Comm: "echo", PID: pid, PPID: me, Ret: 0, TID: pid,
		Syscall: "execve", Filename: "/bin/echo", Args: []string{"/bin/echo", "arg-one", "two\nlines"}}
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Errorf("execve event:\n got %+v\nwant %+v", e, want)
	}
	ts, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil || ts.Sub(started).Abs() > 10*time.Second {
		t.Errorf("time %q: %v, want RFC 3339 near %v", e.Time, err, started)
	}

	// The helper is exec'd (execve) before it calls execveat from the same pid.
	pid = runFexecve(t)
	e = decode(p.WaitLine(t, func(l string) bool { e := decode(l); return e.PID == pid && e.Syscall == "execveat" }))
	if e.Syscall != "execveat" || e.Filename != "" || fmt.Sprint(e.Args) != "[echo via-fexecve]" || e.Ret != 0 {
		t.Errorf("fexecve event = %+v, want execveat with args [echo via-fexecve]", e)
	}

	exec.Command("/nonexistent/ebtools-test", "x").Run()
	e = decode(p.WaitLine(t, func(l string) bool { return decode(l).Filename == "/nonexistent/ebtools-test" }))
	if e.Ret != -2 || e.PPID != me {
		t.Errorf("failed exec event = %+v, want ret -2, ppid %d", e, me)
	}

	if _, code := p.Stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0", code)
	}
}

// TestThousandExecs is the acceptance load: 1000 fork+exec, 1000 rows, 0 lost.
func TestThousandExecs(t *testing.T) {
	testutil.RequirePrivileged(t)
	p := testutil.Start(t, append([]string{"execsnoop"}, selfFilter()...)...)
	const n = 1000
	for i := 0; i < n; i++ {
		runWorkload(t, "/bin/true", "arg-one", "arg-two")
	}
	// A marker exec after the load: once its row is in, all before it are.
	runWorkload(t, "/bin/echo", "end-of-load")
	rows := 0
	for {
		l := p.WaitLine(t, func(string) bool { return true })
		if strings.HasSuffix(l, "/bin/echo end-of-load") {
			break
		}
		if strings.HasSuffix(l, " /bin/true arg-one arg-two") {
			rows++
		}
	}
	if _, code := p.Stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code = %d", code)
	}
	if rows != n {
		t.Errorf("rows = %d, want %d", rows, n)
	}
	if !strings.Contains(p.Stderr(), "lost=0") || strings.Contains(p.Stderr(), "events lost") {
		t.Errorf("events were lost:\n%s", p.Stderr())
	}
}
