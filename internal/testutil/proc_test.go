package testutil

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDumpIfStuck: a process that ignores the test's patience is reported
// with a kernel stack per thread, then made to quit.
func TestDumpIfStuck(t *testing.T) {
	p := StartCmd(t, exec.Command("sh", "-c", "echo 'attached: tool=fake' >&2; exec sleep 60"))
	report := p.dumpIfStuck(100 * time.Millisecond)
	if !strings.Contains(report, "still running after 100ms") || !strings.Contains(report, "thread ") {
		t.Errorf("report:\n%s", report)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Error("still running after SIGQUIT")
	}
	if report := p.dumpIfStuck(time.Second); report != "" {
		t.Errorf("an exited process is reported as stuck:\n%s", report)
	}
}
