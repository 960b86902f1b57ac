package execsnoop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
)

// The privileged tests run the real binary, filtered in the kernel to
// children of this test process (-P) or to a process tree (--tree), so
// other activity cannot reach them.

func selfFilter() []string { return []string{"-P", strconv.Itoa(os.Getpid())} }

// textRow is how a row is printed: COMM PID PPID RET ARGS.
func textRow(comm string, pid, ppid, ret int, args string) string {
	return fmt.Sprintf("%-16s %-7d %-7d %3d %s", comm, pid, ppid, ret, args)
}

func runWorkload(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("workload %s: %v", name, err)
	}
	return cmd.Process.Pid
}

// runHelper runs this test binary as the workload named mode (TestMain).
func runHelper(t *testing.T, mode, want string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Fatalf("%s helper: %v, output %q", mode, err, out)
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
	if want := "COMM             PID     PPID    RET ARGS"; header != want {
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

	// fexecve(3) is execveat(fd, "", AT_EMPTY_PATH): the kernel names the
	// file /dev/fd/N, which shows it came from a descriptor.
	pid = runHelper(t, "fexecve", "via-fexecve")
	got = p.WaitLine(t, func(l string) bool { return strings.Contains(l, "via-fexecve") })
	if f := strings.Fields(got); len(f) != 6 || f[1] != strconv.Itoa(pid) || !strings.HasPrefix(f[4], "/dev/fd/") || f[5] != "via-fexecve" {
		t.Errorf("fexecve row = %q, want ARGS /dev/fd/N via-fexecve", got)
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
	Script        *string  `json:"script"`
	Args          []string `json:"args"`
	Argc          int      `json:"argc"`
	ArgsTruncated bool     `json:"args_truncated"`
	Exe           *string  `json:"exe"`
}

func decodeJSON(t *testing.T, l string) jsonEvent {
	t.Helper()
	var e jsonEvent
	if err := json.Unmarshal([]byte(l), &e); err != nil {
		t.Fatalf("invalid JSON line %q: %v", l, err)
	}
	return e
}

func TestJSONRows(t *testing.T) {
	testutil.RequirePrivileged(t)
	p := testutil.Start(t, append([]string{"-o", "json", "execsnoop", "-x"}, selfFilter()...)...)
	me := os.Getpid()
	started := time.Now()
	pidIs := func(pid int) func(string) bool {
		return func(l string) bool { return decodeJSON(t, l).PID == pid }
	}

	pid := runWorkload(t, "/bin/echo", "arg-one", "two\nlines")
	e := decodeJSON(t, p.WaitLine(t, pidIs(pid)))
	exe := "/usr/bin/echo"
	if real, err := filepath.EvalSymlinks("/bin/echo"); err == nil {
		exe = real
	}
	want := jsonEvent{Time: e.Time, KtimeNs: e.KtimeNs, UID: 0, Comm: "echo", PID: pid, PPID: me, Ret: 0, TID: pid,
		Syscall: "execve", Filename: "/bin/echo", Args: []string{"/bin/echo", "arg-one", "two\nlines"}, Argc: 3, Exe: e.Exe}
	if fmt.Sprint(e) != fmt.Sprint(want) || e.Exe == nil || *e.Exe != exe {
		t.Errorf("execve event:\n got %+v\nwant %+v", e, want)
	}
	ts, err := time.Parse(time.RFC3339Nano, e.Time)
	if err != nil || ts.Sub(started).Abs() > 10*time.Second {
		t.Errorf("time %q: %v, want RFC 3339 near %v", e.Time, err, started)
	}

	// The helper is exec'd (execve) before it calls execveat from the same pid.
	pid = runHelper(t, "fexecve", "via-fexecve")
	e = decodeJSON(t, p.WaitLine(t, func(l string) bool { e := decodeJSON(t, l); return e.PID == pid && e.Syscall == "execveat" }))
	if !strings.HasPrefix(e.Filename, "/dev/fd/") || fmt.Sprint(e.Args) != "[echo via-fexecve]" || e.Ret != 0 || e.ArgsTruncated ||
		e.Exe == nil || *e.Exe != exe {
		t.Errorf("fexecve event = %+v, want execveat of /dev/fd/N, args [echo via-fexecve], not truncated, exe %s", e, exe)
	}

	exec.Command("/nonexistent/ebtools-test", "x").Run()
	e = decodeJSON(t, p.WaitLine(t, func(l string) bool { return decodeJSON(t, l).Filename == "/nonexistent/ebtools-test" }))
	if e.Ret != -2 || e.PPID != me || e.Exe != nil || fmt.Sprint(e.Args) != "[/nonexistent/ebtools-test x]" {
		t.Errorf("failed exec event = %+v, want ret -2, ppid %d, no exe", e, me)
	}

	if _, code := p.Stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0", code)
	}
}

// TestForkExecLiterals is the workload: a C program forks and
// execv()s string literals 1,000 times (half that in the test-kernels
// guests: testutil.Sized). Every row has the exact argv, in text and JSON,
// on both event buffers, and nothing is lost.
func TestForkExecLiterals(t *testing.T) {
	testutil.RequirePrivileged(t)
	bin := testutil.CBinary(t, "testdata/forkexec.c")
	n := testutil.Sized(1000)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			testutil.EachForced(t, func(t *testing.T, force string) {
				// The children's parent is forkexec: --tree takes in
				// every process this test starts.
				p := testutil.StartForced(t, force, "-o", format, "execsnoop", "--tree", strconv.Itoa(os.Getpid()))
				cmd := exec.Command(bin, strconv.Itoa(n))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("forkexec: %v %s", err, out)
				}
				runWorkload(t, "/bin/echo", "end-of-load")
				rows, bad := 0, 0
				for {
					l := p.WaitLine(t, func(string) bool { return true })
					if strings.Contains(l, "end-of-load") {
						break
					}
					switch format {
					case "text":
						if strings.HasPrefix(l, "true ") {
							rows++
							if !strings.HasSuffix(l, " 0 /bin/true arg-one arg-two") {
								bad++
								t.Errorf("row %q", l)
							}
						}
					case "json":
						if e := decodeJSON(t, l); e.Comm == "true" {
							rows++
							if fmt.Sprint(e.Args) != "[/bin/true arg-one arg-two]" || e.ArgsTruncated || e.Argc != 3 || e.Filename != "/bin/true" {
								bad++
								t.Errorf("event %q", l)
							}
						}
					}
					if bad > 5 {
						t.FailNow()
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
			})
		})
	}
}

// TestLongArgv: 100 arguments arrive whole; 40 KiB of argv is exact up to
// the 32 KiB kept, then cut and marked.
func TestLongArgv(t *testing.T) {
	testutil.RequirePrivileged(t)
	p := testutil.Start(t, append([]string{"-o", "json", "execsnoop", "--max-args", "16384"}, selfFilter()...)...)

	var hundred []string
	for i := 0; i < 100; i++ {
		hundred = append(hundred, fmt.Sprintf("arg-%03d", i))
	}
	pid := runWorkload(t, "/bin/true", hundred...)
	e := decodeJSON(t, p.WaitLine(t, func(l string) bool { return decodeJSON(t, l).PID == pid }))
	if len(e.Args) != 101 || e.Args[100] != "arg-099" || e.ArgsTruncated || e.Argc != 101 {
		t.Errorf("100 arguments: %d args, last %q, truncated %v, argc %d", len(e.Args), e.Args[len(e.Args)-1], e.ArgsTruncated, e.Argc)
	}

	// 40 arguments of 1 KiB: "/bin/true" and 10 bytes of argv[0]... fill
	// 32 KiB within the 32nd argument.
	var big []string
	for i := 0; i < 40; i++ {
		big = append(big, fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 1019)))
	}
	pid = runWorkload(t, "/bin/true", big...)
	e = decodeJSON(t, p.WaitLine(t, func(l string) bool { return decodeJSON(t, l).PID == pid }))
	kept := len("/bin/true") + 1
	whole := 0
	for i, a := range e.Args[1:] {
		if a != big[i] {
			if !strings.HasPrefix(big[i], a) {
				t.Errorf("argument %d = %.20q..., not a prefix of what was passed", i, a)
			}
			kept += len(a)
			break
		}
		kept += len(a) + 1
		whole++
	}
	if !e.ArgsTruncated || e.Argc != 41 || kept != 32768 || whole != 31 {
		t.Errorf("40 KiB argv: %d whole arguments, %d bytes kept, truncated %v, argc %d; want 31, 32768, true, 41", whole, kept, e.ArgsTruncated, e.Argc)
	}
	if _, code := p.Stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code = %d", code)
	}

	// In text, a cut argument ends in ..., and the missing ones are one ...
	p = testutil.Start(t, append([]string{"execsnoop", "--max-args", "16384"}, selfFilter()...)...)
	pid = runWorkload(t, "/bin/true", big...)
	l := p.WaitLine(t, func(l string) bool { return strings.Contains(l, " "+strconv.Itoa(pid)+" ") })
	if !strings.HasSuffix(l, "... ...") || !strings.Contains(l, big[30]+" 031-") {
		t.Errorf("text row ends %q, want the 31 whole arguments, then a cut one and ...", l[max(0, len(l)-60):])
	}
}

// TestExe: the EXE column and exe key name the file the kernel ran:
// through a symlink, the target; for a script, the interpreter (and the
// script in JSON); for a memfd, its name, marked deleted.
func TestExe(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "mytrue")
	if err := os.Symlink("/bin/true", link); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "backup.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	realTrue, _ := filepath.EvalSymlinks("/bin/true")
	realSh, _ := filepath.EvalSymlinks("/bin/sh")
	realEcho, _ := filepath.EvalSymlinks("/bin/echo")

	p := testutil.Start(t, append([]string{"-o", "json", "execsnoop"}, selfFilter()...)...)
	pid := runWorkload(t, link, "x")
	e := decodeJSON(t, p.WaitLine(t, func(l string) bool { return decodeJSON(t, l).PID == pid }))
	if e.Exe == nil || *e.Exe != realTrue || e.Filename != link || e.Script != nil {
		t.Errorf("symlink: exe %v, filename %q, script %v; want exe %s", orNull(e.Exe), e.Filename, orNull(e.Script), realTrue)
	}

	pid = runWorkload(t, script, "--all")
	e = decodeJSON(t, p.WaitLine(t, func(l string) bool { return decodeJSON(t, l).PID == pid }))
	if e.Exe == nil || *e.Exe != realSh || e.Script == nil || *e.Script != script || fmt.Sprint(e.Args) != "[/bin/sh "+script+" --all]" {
		t.Errorf("script: exe %v, script %v, args %q; want exe %s, script %s", orNull(e.Exe), orNull(e.Script), e.Args, realSh, script)
	}

	pid = runHelper(t, "memfd", "via-memfd")
	e = decodeJSON(t, p.WaitLine(t, func(l string) bool { e := decodeJSON(t, l); return e.PID == pid && e.Syscall == "execveat" }))
	if e.Exe == nil || *e.Exe != "memfd:sshd (deleted)" || !strings.HasPrefix(e.Filename, "/dev/fd/") || fmt.Sprint(e.Args) != "[sshd via-memfd]" {
		t.Errorf("memfd: exe %v, filename %q, args %q", orNull(e.Exe), e.Filename, e.Args)
	}
	p.Stop(t, syscall.SIGTERM)

	// Text: -e adds EXE before ARGS.
	p = testutil.Start(t, append([]string{"execsnoop", "-e"}, selfFilter()...)...)
	if h := p.WaitLine(t, func(string) bool { return true }); h != "COMM             PID     PPID    RET EXE              ARGS" {
		t.Errorf("header %q", h)
	}
	pid = runWorkload(t, link, "x")
	l := p.WaitLine(t, func(l string) bool { return strings.Contains(l, " "+strconv.Itoa(pid)+" ") })
	if want := fmt.Sprintf("%-16s %-7d %-7d %3d %-16s %s", "mytrue", pid, os.Getpid(), 0, realTrue, link+" x"); l != want {
		t.Errorf("text row:\n got %q\nwant %q", l, want)
	}
	pid = runHelper(t, "memfd", "via-memfd")
	l = p.WaitLine(t, func(l string) bool { return strings.Contains(l, "via-memfd") })
	if !strings.Contains(l, "memfd:sshd") || !strings.Contains(l, "/dev/fd/") || !strings.Contains(l, strconv.Itoa(pid)) {
		t.Errorf("memfd text row %q: want EXE memfd:sshd (deleted) and ARGS /dev/fd/N", l)
	}
	_ = realEcho
}

func orNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}
