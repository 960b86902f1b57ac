package opensnoop

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
)

// TestEverySyscall: a C workload opens a file once with each open syscall
// its architecture has, by number (open(2) on x86-64 only), and each call
// comes out as one row naming its syscall, with the workload's result. On
// x86-64 this is the only test of the open hook; on arm64 it shows that
// the tool does without it.
func TestEverySyscall(t *testing.T) {
	testutil.RequirePrivileged(t)
	target := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.CBinary(t, "testdata/opens.c"), target)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewScanner(stdout)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("workload did not get ready: %q", out.Text())
	}
	p := testutil.Start(t, "-o", "json", "opensnoop", "-p", strconv.Itoa(cmd.Process.Pid))
	stdin.Write([]byte("go\n"))
	var calls [][2]string // syscall, result
	for out.Scan() {
		f := strings.Fields(out.Text())
		if len(f) != 2 {
			t.Fatalf("workload printed %q", out.Text())
		}
		calls = append(calls, [2]string{f[0], f[1]})
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}
	for _, c := range calls {
		if c[1] == strconv.Itoa(-int(syscall.ENOSYS)) {
			continue // not in this kernel: no tracepoint, no row
		}
		var e jsonEvent
		if err := json.Unmarshal([]byte(p.WaitLine(t, func(string) bool { return true })), &e); err != nil {
			t.Fatal(err)
		}
		if e.Syscall != c[0] || strconv.Itoa(e.Ret) != c[1] || e.Path != target || e.PID != cmd.Process.Pid {
			t.Errorf("%s returned %s: row %+v", c[0], c[1], e)
		}
	}
	rows, _ := p.Stop(t, syscall.SIGTERM)
	if len(rows) != 0 {
		t.Errorf("rows after the workload's %d: %q", len(calls), rows)
	}
	var made []string
	for _, c := range calls {
		made = append(made, c[0])
	}
	if want, ok := opens[runtime.GOARCH]; ok && strings.Join(made, " ") != want {
		t.Errorf("the workload made %q, want %q on %s", made, want, runtime.GOARCH)
	}
	t.Logf("syscalls made and traced: %v", calls)
}

// opens are the open syscalls each architecture the tests run on has.
var opens = map[string]string{"amd64": "open openat openat2", "arm64": "openat openat2"}
