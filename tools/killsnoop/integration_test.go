package killsnoop

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

type jsonEvent struct {
	PID     int
	Comm    string
	Signal  string
	Sig     int
	TPID    int
	TComm   *string
	Ret     int
	Error   *string
	Syscall string
	ExecID  string `json:"exec_id"`
}

// sleeper starts a process to send signals to.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Start returns once the new image exists, a moment before exec
	// renames the task (its comm is still this test's): wait for the name.
	deadline := time.Now().Add(testutil.Timeout)
	for {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm")
		if strings.TrimSpace(string(b)) == "sleep" {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleeper's comm is %q", b)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSignals sends signals from this process (-p): a delivered SIGUSR1
// with the target's comm, a failed kill of a missing pid, a tgkill, and
// checks -s and -x filter in the kernel.
func TestSignals(t *testing.T) {
	testutil.RequirePrivileged(t)
	me := strconv.Itoa(os.Getpid())
	testutil.EachForced(t, func(t *testing.T, force string) {
		all := testutil.StartForced(t, force, "-o", "json", "killsnoop", "-p", me)
		onlyKill := testutil.StartForced(t, force, "killsnoop", "-p", me, "-s", "KILL")
		failed := testutil.StartForced(t, force, "killsnoop", "-p", me, "-x")
		s := sleeper(t)
		if err := unix.Kill(s.Process.Pid, unix.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if err := unix.Kill(4194303, unix.SIGTERM); err != unix.ESRCH {
			t.Fatalf("kill of a missing pid: %v", err)
		}
		if err := unix.Tgkill(s.Process.Pid, s.Process.Pid, unix.SIGCONT); err != nil {
			t.Fatal(err)
		}
		if err := unix.Kill(s.Process.Pid, unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
		var got []jsonEvent
		for len(got) < 4 {
			var e jsonEvent
			l := all.WaitLine(t, func(string) bool { return true })
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%v: %q", err, l)
			}
			// Go's runtime preempts its own threads with tgkill(SIGURG).
			if e.Signal != "SIGURG" {
				got = append(got, e)
			}
		}
		comm := func(e jsonEvent) string {
			if e.TComm == nil {
				return "null"
			}
			return *e.TComm
		}
		for i, w := range []struct {
			signal, tcomm, syscall string
			tpid, ret              int
		}{
			{"SIGUSR1", "sleep", "kill", s.Process.Pid, 0},
			{"SIGTERM", "null", "kill", 4194303, -3},
			{"SIGCONT", "sleep", "tgkill", s.Process.Pid, 0},
			{"SIGKILL", "sleep", "kill", s.Process.Pid, 0},
		} {
			e := got[i]
			if e.Signal != w.signal || comm(e) != w.tcomm || e.Syscall != w.syscall || e.TPID != w.tpid || e.Ret != w.ret ||
				e.PID != os.Getpid() || !strings.HasPrefix(e.ExecID, me+":") {
				t.Errorf("event %d = %+v (tcomm %s), want %+v", i, e, comm(e), w)
			}
		}
		if e := got[1]; e.Error == nil || *e.Error != "ESRCH" {
			t.Errorf("failed kill: error %v, want ESRCH", e.Error)
		}
		for _, run := range []struct {
			p    *testutil.Proc
			want string
		}{{onlyKill, " SIGKILL "}, {failed, " ESRCH"}} {
			run.p.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "PID") })
			// The last row (SIGKILL, or the only failure) is in once it
			// is read: then stop and take what is left.
			first := run.p.WaitLine(t, func(string) bool { return true })
			rows, _ := run.p.Stop(t, syscall.SIGTERM)
			rows = append([]string{first}, rows...)
			if len(rows) != 1 || !strings.Contains(rows[0], run.want) {
				t.Errorf("rows %q, want one with %q", rows, run.want)
			}
		}
	})
}
