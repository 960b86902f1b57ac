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

// TestPacedSized: real CPUs run the full rate and size; an emulated one
// divides the rate by slowdown and pace, the size by pace.
func TestPacedSized(t *testing.T) {
	tests := []struct {
		slowdown, pace   string
		paced, sized, to int
	}{
		{"", "", 0, 1000, 20},
		{"1", "2", 0, 1000, 20},       // the host with the guests' pace set
		{"10", "2", 5000, 500, 200},   // an x86 guest
		{"20", "2", 2500, 500, 400},   // the arm64 guest
		{"10", "", 10000, 1000, 200},  // pace unset: 1
		{"10", "0", 10000, 1000, 200}, // nonsense: 1
		{"x", "2", 0, 1000, 20},
		{"100000000", "3", 1, 333, 2000000000},
	}
	for _, tt := range tests {
		t.Setenv("EBTOOLS_TEST_SLOWDOWN", tt.slowdown)
		t.Setenv("EBTOOLS_TEST_PACE", tt.pace)
		if got := Paced(100000); got != tt.paced {
			t.Errorf("slowdown %q pace %q: Paced(100000) = %d, want %d", tt.slowdown, tt.pace, got, tt.paced)
		}
		if got := Sized(1000); got != tt.sized {
			t.Errorf("slowdown %q pace %q: Sized(1000) = %d, want %d", tt.slowdown, tt.pace, got, tt.sized)
		}
		if got := Scaled(20 * time.Second); got != time.Duration(tt.to)*time.Second {
			t.Errorf("slowdown %q: Scaled(20s) = %v, want %ds", tt.slowdown, got, tt.to)
		}
	}
}
