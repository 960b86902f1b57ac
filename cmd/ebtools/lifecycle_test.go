package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
)

// These tests use execsnoop as the vehicle for behaviour every tool shares:
// startup without tracefs, the perf buffer fallback, flushing into pipes,
// ending on a closed pipe, -d and signals.

func children() []string { return []string{"execsnoop", "-P", strconv.Itoa(os.Getpid())} }

func exec1(t *testing.T, args ...string) int {
	t.Helper()
	cmd := exec.Command("/bin/echo", args...)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func suffix(s string) func(string) bool {
	return func(l string) bool { return strings.HasSuffix(l, s) }
}

// TestWithoutTracefs unmounts every tracefs in a mount namespace of its own
// and runs ebtools there: it must mount tracefs itself and work.
func TestWithoutTracefs(t *testing.T) {
	testutil.RequirePrivileged(t)
	script := `for m in $(awk '$3 == "tracefs" { print $2 }' /proc/self/mounts | sort -r); do umount "$m" || exit 97; done
if grep -q ' tracefs ' /proc/self/mounts; then exit 98; fi
exec "$0" "$@"`
	args := append([]string{"-c", script, testutil.Binary(t), "--log-level", "debug"}, children()...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes mounts private
	p := testutil.StartCmd(t, cmd)
	exec1(t, "no-tracefs")
	p.WaitLine(t, suffix("/bin/echo no-tracefs"))
	if !strings.Contains(p.Stderr(), "tracefs was not mounted: mounted it: path=/sys/kernel/tracing") {
		t.Errorf("no report of mounting tracefs:\n%s", p.Stderr())
	}
	if _, code := p.Stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d\n%s", code, p.Stderr())
	}
}

// TestPerfBufferFallback forces the pre-5.8 perf buffer path.
func TestPerfBufferFallback(t *testing.T) {
	testutil.RequirePrivileged(t)
	cmd := exec.Command(testutil.Binary(t), append([]string{"--log-level", "info"}, children()...)...)
	cmd.Env = append(os.Environ(), "EBTOOLS_FORCE=perfbuf")
	p := testutil.StartCmd(t, cmd)
	if !strings.Contains(p.Stderr(), "perfbuf=true") {
		t.Fatalf("perf buffer not used:\n%s", p.Stderr())
	}
	const n = 200
	for i := 0; i < n; i++ {
		exec1(t, "perf-path", strconv.Itoa(i))
	}
	// Every row, in any order: each CPU has its own perf buffer, so rows
	// from different CPUs need not come out in the order of the execs.
	seen := map[int]bool{}
	for len(seen) < n {
		l := p.WaitLine(t, func(l string) bool { return strings.Contains(l, "/bin/echo perf-path ") })
		_, arg, _ := strings.Cut(l, "/bin/echo perf-path ")
		i, err := strconv.Atoi(arg)
		if err != nil || i < 0 || i >= n || seen[i] {
			t.Fatalf("unexpected row %q", l)
		}
		seen[i] = true
	}
	if _, code := p.Stop(t, syscall.SIGTERM); code != 0 || !strings.Contains(p.Stderr(), "lost=0") {
		t.Errorf("exit %d, stderr:\n%s", code, p.Stderr())
	}
}

// TestPipeLatency: with stdout a pipe, a lone event's row arrives promptly,
// not when a buffer fills or the tool exits.
func TestPipeLatency(t *testing.T) {
	testutil.RequirePrivileged(t)
	p := testutil.Start(t, children()...)
	p.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "COMM") })
	began := time.Now()
	exec1(t, "latency")
	p.WaitLine(t, suffix("/bin/echo latency"))
	took := time.Since(began)
	t.Logf("exec to row on the pipe: %v", took)
	if limit := testutil.Scaled(time.Second); took > limit {
		t.Errorf("row took %v to reach the pipe, want under %v", took, limit)
	}
}

// TestClosedPipe is `ebtools execsnoop | head -2`: once the reader is gone
// ebtools exits 0, promptly and silently, even with no further events.
func TestClosedPipe(t *testing.T) {
	testutil.RequirePrivileged(t)
	cmd := exec.Command(testutil.Binary(t), append([]string{"--log-level", "info"}, children()...)...)
	p := testutil.StartCmd(t, cmd)
	exec1(t, "first")
	p.WaitLine(t, suffix("/bin/echo first"))
	p.CloseStdout()
	select {
	case <-p.Done():
	case <-time.After(testutil.Scaled(3 * time.Second)):
		t.Fatal("still running 3s (times EBTOOLS_TEST_SLOWDOWN) after its reader went away")
	}
	if code := p.ExitCode(); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	for _, l := range strings.Split(strings.TrimSpace(p.Stderr()), "\n") {
		if !strings.Contains(l, "[INFO]") {
			t.Errorf("unexpected stderr line %q", l)
		}
	}
}

// TestDuration: -d stops the tool by itself with exit 0.
func TestDuration(t *testing.T) {
	testutil.RequirePrivileged(t)
	began := time.Now()
	p := testutil.Start(t, append(children(), "-d1")...) // getopt style, as libbpf-tools accept
	if _, code := p.Wait(t); code != 0 {
		t.Errorf("exit %d\n%s", code, p.Stderr())
	}
	if took := time.Since(began); took < time.Second || took > testutil.Scaled(5*time.Second) {
		t.Errorf("ran %v with -d 1", took)
	}
}

// TestExternalBTF hides /sys/kernel/btf in a mount namespace of its own, as
// on a kernel built without BTF: ebtools must say so, and run with --btf.
func TestExternalBTF(t *testing.T) {
	testutil.RequirePrivileged(t)
	btf := t.TempDir() + "/vmlinux.btf"
	b, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(btf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	withoutBTF := func(args ...string) *exec.Cmd {
		script := `mount -t tmpfs none /sys/kernel/btf || exit 97; exec "$0" "$@"`
		cmd := exec.Command("/bin/sh", append([]string{"-c", script, testutil.Binary(t)}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		return cmd
	}

	_, stderr, code := ebtools(t, withoutBTF(children()...))
	if code != 1 || !strings.Contains(stderr, "this kernel has no BTF") || !strings.Contains(stderr, "--btf PATH") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("without BTF: exit %d, stderr %q; want exit 1 and one sentence about --btf", code, stderr)
	}

	p := testutil.StartCmd(t, withoutBTF(append([]string{"--log-level", "info", "--btf", btf}, children()...)...))
	exec1(t, "external-btf")
	p.WaitLine(t, suffix("/bin/echo external-btf"))
	if _, code := p.Stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("with --btf: exit %d\n%s", code, p.Stderr())
	}
}

// TestStopWhileStdoutBlocked is `ebtools opensnoop | sleep 600` under a
// flood of opens, then SIGTERM: ebtools exits 0 within a second although
// its write to the full pipe never returns, and every event it read is
// either in the pipe or counted as lost.
func TestStopWhileStdoutBlocked(t *testing.T) {
	testutil.RequirePrivileged(t)
	flood := exec.Command("/bin/sh", "-c", "while :; do : </dev/null; done")
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { flood.Process.Kill(); flood.Wait() }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(testutil.Binary(t), "--log-level", "info", "opensnoop", "-p", strconv.Itoa(flood.Process.Pid))
	cmd.Stdout = w
	p := testutil.StartCmd(t, cmd)
	w.Close()
	// The pipe is full: what it holds no longer grows while the flood goes
	// on, so ebtools is blocked in its write.
	deadline := time.Now().Add(testutil.Timeout)
	for last := -1; ; {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD
		if err != nil {
			t.Fatal(err)
		}
		if n >= 32<<10 && n == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipe holds %d bytes, still changing, after %v", n, testutil.Timeout)
		}
		last = n
		time.Sleep(testutil.Scaled(200 * time.Millisecond))
	}
	began := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(testutil.Scaled(5 * time.Second)):
		t.Fatalf("still running 5 s after SIGTERM with its stdout blocked\n%s", p.Stderr())
	}
	took := time.Since(began)
	t.Logf("exited %v after SIGTERM", took)
	if limit := testutil.Scaled(time.Second); took > limit {
		t.Errorf("took %v to exit, want under %v", took, limit)
	}
	if code := p.ExitCode(); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, p.Stderr())
	}
	// Rows in the pipe (the header aside) and unwritten ones are the
	// events ebtools read; the unwritten are part of lost.
	rows := -1
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rows++
	}
	stderr := p.Stderr()
	events, lost, unwritten := logValue(t, stderr, "events"), logValue(t, stderr, "lost"), logValue(t, stderr, "unwritten")
	t.Logf("events=%d rows=%d unwritten=%d lost=%d", events, rows, unwritten, lost)
	if unwritten == 0 || rows+unwritten != events || lost < unwritten {
		t.Errorf("events=%d, rows in the pipe %d, unwritten %d, lost %d: want rows+unwritten = events, unwritten counted in lost\n%s",
			events, rows, unwritten, lost, stderr)
	}
}

// logValue returns the number after key= in the stderr line that has it
// last ("stopped: ... lost=N").
func logValue(t *testing.T, stderr, key string) int {
	t.Helper()
	m := regexp.MustCompile(`\b`+key+`=(\d+)`).FindAllStringSubmatch(stderr, -1)
	if m == nil {
		t.Fatalf("no %s= in stderr:\n%s", key, stderr)
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return n
}

// TestStdoutClosed: with stdout closed at start (`>&-`) there is nowhere
// to print events: one sentence, exit 1. /dev/null on purpose works.
func TestStdoutClosed(t *testing.T) {
	bin := testutil.Binary(t)
	_, stderr, code := ebtools(t, exec.Command("/bin/sh", "-c", `exec "$0" execsnoop >&-`, bin))
	if code != 1 || stderr != "ebtools: "+output.ErrStdoutClosed.Error()+"\n" {
		t.Errorf(">&-: exit %d, stderr %q; want exit 1 and %q", code, stderr, output.ErrStdoutClosed)
	}
	_, stderr, code = ebtools(t, exec.Command("/bin/sh", "-c", `exec "$0" doctor >&-`, bin))
	if code != 1 || !strings.Contains(stderr, "stdout is closed") {
		t.Errorf("doctor >&-: exit %d, stderr %q", code, stderr)
	}
	testutil.RequirePrivileged(t)
	_, stderr, code = ebtools(t, exec.Command("/bin/sh", "-c", `exec "$0" execsnoop -d 0.2 >/dev/null`, bin))
	if code != 0 {
		t.Errorf(">/dev/null: exit %d, stderr %q", code, stderr)
	}
}
