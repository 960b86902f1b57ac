package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

// TestDoctorJSON: -o json gives one object per line, a "check" per fact of
// the system and a "tool" per tool with what it needs.
func TestDoctorJSON(t *testing.T) {
	testutil.RequirePrivileged(t)
	out, stderr, code := ebtools(t, exec.Command(testutil.Binary(t), "doctor", "-o", "json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	checks, toolLines := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			Check, Tool, Detail string
			OK                  *bool
			Capabilities        []string
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		switch {
		case v.Check != "" && v.OK != nil && v.Detail != "":
			checks[v.Check] = true
		case v.Tool != "" && v.OK != nil && *v.OK && len(v.Capabilities) >= 2:
			toolLines[v.Tool] = true
		default:
			t.Errorf("unexpected line %s", l)
		}
	}
	for _, name := range []string{"kernel", "privileges", "btf", "tracefs", "ringbuf", "tracepoints", "xdp", "lockdown"} {
		if !checks[name] {
			t.Errorf("no check %q:\n%s", name, out)
		}
	}
	for _, tool := range tools.All() {
		if !toolLines[tool.Name()] {
			t.Errorf("no runnable tool %q:\n%s", tool.Name(), out)
		}
	}
}

// TestDoctorNothingRuns: where no tool can run, doctor says why and exits 1.
func TestDoctorNothingRuns(t *testing.T) {
	testutil.RequirePrivileged(t) // to become another user
	out, stderr, code := ebtools(t, asNobody(t, nil, "doctor"))
	if code != 1 || stderr != "ebtools: "+errNothingRuns.Error()+"\n" {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, errNothingRuns)
	}
	if !strings.Contains(out, "privileges       no") || !strings.Contains(out, "loading BPF programs needs CAP_BPF and CAP_PERFMON") {
		t.Errorf("report does not say what is missing:\n%s", out)
	}
}

// TestDoctorNamesPermission: without CAP_DAC_READ_SEARCH, tracefs cannot
// be read; doctor says so, and does not blame the kernel's configuration.
func TestDoctorNamesPermission(t *testing.T) {
	testutil.RequirePrivileged(t) // to become another user
	// With tracefs mounted, as it is where tools ran (the test kernel
	// boots without it).
	out, _, code := inMountNamespace(t, mountTracefs, asNobody(t, []ebrt.Capability{ebrt.CapBPF, ebrt.CapPerfmon}, "doctor"))
	var tracepoints string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "tracepoints ") {
			tracepoints = l
		}
	}
	if !strings.Contains(tracepoints, "cannot tell") || !strings.Contains(tracepoints, "CAP_DAC_READ_SEARCH") || strings.Contains(out, "CONFIG_FTRACE_SYSCALLS") {
		t.Errorf("tracepoints line %q; want it to name CAP_DAC_READ_SEARCH, not the kernel's configuration:\n%s", tracepoints, out)
	}
	if !strings.Contains(out, "tool tcplife     yes") || code != 0 {
		t.Errorf("exit %d; tcplife (tp_btf, no tracefs) should run with CAP_BPF and CAP_PERFMON:\n%s", code, out)
	}
}

// withoutTracefs returns a command that runs script in a mount namespace
// of its own from which every tracefs is unmounted.
func withoutTracefs(script string, args ...string) *exec.Cmd {
	unmount := `for m in $(awk '$3 == "tracefs" { print $2 }' /proc/self/mounts | sort -r); do umount "$m" || exit 97; done
`
	cmd := exec.Command("/bin/sh", append([]string{"-c", unmount + script}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	return cmd
}

// TestDoctorChangesNothing: where tracefs is not mounted, doctor checks
// what tools would do with it, and leaves it unmounted.
func TestDoctorChangesNothing(t *testing.T) {
	testutil.RequirePrivileged(t)
	script := `"$0" --log-level info doctor || exit $?
echo "tracefs mounts after doctor: $(grep -c ' tracefs ' /proc/self/mounts)"`
	out, stderr, code := ebtools(t, withoutTracefs(script, testutil.Binary(t)))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"tracefs          yes  not mounted: tools mount it at /sys/kernel/tracing as they start (needs CAP_SYS_ADMIN)",
		"tool execsnoop   yes  sched_process_exec: tp_btf, execve: tracepoint",
		"tracefs mounts after doctor: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "[INFO]  ebtools.doctor: tracefs is not mounted: checking it from a mount namespace of doctor's own") {
		t.Errorf("stderr does not say where doctor mounted tracefs:\n%s", stderr)
	}
}

// TestTracefsMountNeedsSysAdmin: a tool that must mount tracefs and may
// not says that it needs CAP_SYS_ADMIN for it.
func TestTracefsMountNeedsSysAdmin(t *testing.T) {
	testutil.RequirePrivileged(t)
	_, stderr, code := inMountNamespace(t, unmountTracefs, asNobody(t, leastPrivilege["execsnoop"].caps, "execsnoop"))
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, ebrt.CapSysAdmin.Name+" to mount tracefs") {
		t.Errorf("exit %d, stderr %q; want exit 1 and one sentence naming CAP_SYS_ADMIN", code, stderr)
	}
}

// inMountNamespace runs cmd to completion in a mount namespace of its own,
// after prepare changed it, and returns its stdout, stderr and exit code.
func inMountNamespace(t *testing.T, prepare func() error, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, in a mount namespace of its own,
		// ends with the goroutine; cmd is forked from it.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- fmt.Errorf("make mounts private: %w", err)
			return
		}
		if err := prepare(); err != nil {
			done <- err
			return
		}
		err := cmd.Run()
		if _, ok := err.(*exec.ExitError); ok {
			err = nil
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// mountTracefs mounts tracefs at /sys/kernel/tracing unless it is mounted.
func mountTracefs() error {
	b, err := os.ReadFile("/proc/thread-self/mounts")
	if err != nil || strings.Contains(string(b), " tracefs ") {
		return err
	}
	return unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, "")
}

// unmountTracefs unmounts every tracefs (in the caller's mount namespace).
func unmountTracefs() error {
	b, err := os.ReadFile("/proc/thread-self/mounts")
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if f := strings.Fields(lines[i]); len(f) > 2 && f[2] == "tracefs" {
			if err := unix.Unmount(f[1], unix.MNT_DETACH); err != nil {
				return fmt.Errorf("unmount %s: %w", f[1], err)
			}
		}
	}
	return nil
}
