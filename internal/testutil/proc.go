package testutil

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a running ebtools whose stdout lines and stderr the test reads.
type Proc struct {
	Cmd    *exec.Cmd
	stdout io.ReadCloser
	ready  chan struct{}
	done   chan struct{}
	err    error

	mu     sync.Mutex
	stderr bytes.Buffer
	// lines grows without bound so that a test that reads late never
	// slows ebtools down; next is the first line not yet consumed.
	lines  []string
	next   int
	eof    bool
	notify chan struct{} // closed and replaced whenever lines or eof change
}

// Timeout bounds every wait in this package: 20 s, times
// EBTOOLS_TEST_SLOWDOWN on slow machines (an emulated kernel test).
var Timeout = Scaled(20 * time.Second)

// Slowdown is EBTOOLS_TEST_SLOWDOWN: how many times slower than real
// hardware this machine runs (10 or more in the emulated test-kernels
// guests, as their calibration finds), 1 if unset.
func Slowdown() int {
	if n, err := strconv.Atoi(os.Getenv("EBTOOLS_TEST_SLOWDOWN")); err == nil && n > 1 {
		return n
	}
	return 1
}

// Paced is rate, a number of events a second that a tool keeps up with on
// real hardware, for this machine: 0 on real CPUs (no pacing: as fast as
// they go), rate over Slowdown and Pace under emulation. There one host
// thread runs both guest CPUs, so a busy workload starves the tool's
// reader: the test-kernels guests set a pace of 2 (at 1, the x86 guests
// lost events in 3 of 4 runs of the paced tests on a normal day).
func Paced(rate int) int {
	if Slowdown() == 1 {
		return 0
	}
	return max(rate/Slowdown()/Pace(), 1)
}

// Sized is n, the size of a long workload whose every event a test checks
// (a thousand fork-execs), for this machine: n on real CPUs, n over Pace
// under emulation. The guests check the same rows on fewer of them, which
// keeps the three guests within CI's time on a slow day; the host runs the
// full size.
func Sized(n int) int {
	if Slowdown() == 1 {
		return n
	}
	return max(n/Pace(), 1)
}

// Pace is EBTOOLS_TEST_PACE, how much lighter than on the host an
// emulated machine's workloads are (2 in the test-kernels guests), 1 if
// unset.
func Pace() int {
	if n, err := strconv.Atoi(os.Getenv("EBTOOLS_TEST_PACE")); err == nil && n > 1 {
		return n
	}
	return 1
}

// Scaled is d times Slowdown: a time bound that holds on real hardware,
// stretched for a slower machine.
func Scaled(d time.Duration) time.Duration { return d * time.Duration(Slowdown()) }

// Start runs ebtools with args (global flags first are fine) at info log
// level and waits until it reports its programs attached.
func Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, exec.Command(Binary(t), append([]string{"--log-level", "info"}, args...)...))
}

// StartCmd starts cmd, which must run ebtools at info log level (possibly
// through a wrapper), and waits for its readiness line on stderr. If
// cmd.Stdout is set, the test reads it itself (WaitLine sees nothing).
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, ready: make(chan struct{}), done: make(chan struct{}), notify: make(chan struct{})}
	var stdout io.ReadCloser = io.NopCloser(strings.NewReader(""))
	if cmd.Stdout == nil {
		var err error
		if stdout, err = cmd.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
	}
	p.stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.wake()
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.eof = true
		p.wake()
		p.mu.Unlock()
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "attached: tool=") {
				close(p.ready)
				signalled = true
			}
		}
	}()
	go func() {
		wg.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case <-p.ready:
	case <-p.done:
		t.Fatalf("%v exited before attaching: %v\nstderr:\n%s", cmd.Args, p.err, p.Stderr())
	case <-time.After(Timeout):
		t.Fatalf("%v did not attach within %v\nstderr:\n%s", cmd.Args, Timeout, p.Stderr())
	}
	return p
}

// Stderr returns what the process wrote to stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// wake tells waiters that lines or eof changed; p.mu must be held.
func (p *Proc) wake() {
	close(p.notify)
	p.notify = make(chan struct{})
}

// nextLine returns the next unconsumed line, or ok false with a channel
// that is closed when there may be one.
func (p *Proc) nextLine() (line string, ok, eof bool, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next < len(p.lines) {
		p.next++
		return p.lines[p.next-1], true, false, nil
	}
	return "", false, p.eof, p.notify
}

// WaitLine returns the first stdout line (after those already consumed)
// that match accepts, failing t after Timeout.
func (p *Proc) WaitLine(t testing.TB, match func(string) bool) string {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		l, ok, eof, changed := p.nextLine()
		switch {
		case ok:
			if match(l) {
				return l
			}
			continue
		case eof:
			t.Fatalf("stdout ended without a matching line\nstderr:\n%s", p.Stderr())
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no matching line within %v; %s", Timeout, p.stopForReport())
		}
	}
}

// stopForReport interrupts the process so that it logs its totals (events,
// lost, skipped), and describes what it printed: for a failure message.
func (p *Proc) stopForReport() string {
	p.Cmd.Process.Signal(os.Interrupt)
	stuck := p.dumpIfStuck(5 * time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	last := p.lines[max(0, len(p.lines)-5):]
	return fmt.Sprintf("%d stdout lines, the last %d:\n%s\nstderr:\n%s%s",
		len(p.lines), len(last), strings.Join(last, "\n"), p.stderr.String(), stuck)
}

// dumpIfStuck waits up to d for the process to exit. If it does not, it
// returns the kernel stack of each of its threads and makes the Go runtime
// print every goroutine's stack to stderr (SIGQUIT), so that a hang says
// where it is.
func (p *Proc) dumpIfStuck(d time.Duration) string {
	select {
	case <-p.done:
		return ""
	case <-time.After(d):
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nstill running after %v; kernel stacks:\n", d)
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p.Cmd.Process.Pid))
	for _, task := range tasks {
		stack, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stack", p.Cmd.Process.Pid, task.Name()))
		fmt.Fprintf(&b, "thread %s:\n%s", task.Name(), stack)
	}
	p.Cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	return b.String()
}

// Stop sends sig, waits for exit and returns every stdout line not yet
// consumed and the exit code.
func (p *Proc) Stop(t testing.TB, sig os.Signal) (rest []string, code int) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal: %v", err)
	}
	return p.Wait(t)
}

// Wait waits for exit and returns unconsumed stdout lines and the exit code.
func (p *Proc) Wait(t testing.TB) (rest []string, code int) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(Timeout):
		stuck := p.dumpIfStuck(0)
		t.Fatalf("process did not exit within %v\nstderr:\n%s%s", Timeout, p.Stderr(), stuck)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rest = append(rest, p.lines[p.next:]...)
	p.next = len(p.lines)
	return rest, exitCode(p.Cmd)
}

// CloseStdout closes the test's end of the stdout pipe, as `| head` does.
func (p *Proc) CloseStdout() { p.stdout.Close() }

// Done is closed once the process has exited and its output is read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitCode is the exit code after Done, -1 if killed by a signal.
func (p *Proc) ExitCode() int { return exitCode(p.Cmd) }

func exitCode(cmd *exec.Cmd) int {
	if cmd.ProcessState == nil {
		return -1
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1
	}
	return cmd.ProcessState.ExitCode()
}

// Forced lists the EBTOOLS_FORCE settings that every event tool's
// integration tests run under: the runtime's own choice, and the perf
// buffer that kernels before 5.8 (no ring buffer) get.
var Forced = []string{"", "perfbuf"}

// EachForced runs f once per setting in Forced, each as a subtest named
// after it.
func EachForced(t *testing.T, f func(t *testing.T, force string)) {
	for _, force := range Forced {
		t.Run("EBTOOLS_FORCE="+force, func(t *testing.T) { f(t, force) })
	}
}

// StartForced is Start with EBTOOLS_FORCE=force. It fails the test if the
// perf buffer was forced and the runtime did not use it.
func StartForced(t testing.TB, force string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(Binary(t), append([]string{"--log-level", "info"}, args...)...)
	cmd.Env = append(os.Environ(), "EBTOOLS_FORCE="+force)
	p := StartCmd(t, cmd)
	if strings.Contains(force, "perfbuf") && !strings.Contains(p.Stderr(), "perfbuf=true") {
		t.Fatalf("EBTOOLS_FORCE=%s: perf buffer not used; stderr:\n%s", force, p.Stderr())
	}
	for _, l := range strings.Split(p.Stderr(), "\n") {
		if _, attached, ok := strings.Cut(l, "attached: "); ok {
			attached, _, _ = strings.Cut(attached, " ms=")
			t.Logf("EBTOOLS_FORCE=%s: attached with %s", force, attached)
		}
	}
	return p
}
