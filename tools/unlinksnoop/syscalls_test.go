package unlinksnoop

import (
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

// TestEverySyscall: a C workload removes a file and a directory with each
// syscall its architecture has for it, by number (unlink(2) and rmdir(2)
// on x86-64 only), and each call comes out as one row naming its syscall
// and operation. On x86-64 this is the only test of the unlink and rmdir
// hooks; on arm64 it shows that the tool does without them.
func TestEverySyscall(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	for _, name := range []string{"file-unlink", "file-unlinkat"} {
		touch(t, filepath.Join(dir, name))
	}
	for _, name := range []string{"dir-rmdir", "dir-unlinkat"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := testutil.Start(t, "-o", "json", "unlinksnoop", "--path", dir)
	cmd := exec.Command(testutil.CBinary(t, "testdata/unlinks.c"), dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("workload: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var made []string
	for _, l := range lines {
		f := strings.Fields(l) // syscall op ret path
		if len(f) != 4 {
			t.Fatalf("workload printed %q", l)
		}
		made = append(made, f[0])
		e := decodeJSON(t, p.WaitLine(t, func(string) bool { return true }))
		if e.Syscall != f[0] || e.Op != f[1] || strconv.Itoa(e.Ret) != f[2] || e.Path != f[3] || e.PID != cmd.Process.Pid {
			t.Errorf("%s: row %+v", l, e)
		}
	}
	rows, _ := p.Stop(t, syscall.SIGTERM)
	if len(rows) != 0 {
		t.Errorf("rows after the workload's %d: %q", len(lines), rows)
	}
	if want, ok := removes[runtime.GOARCH]; ok && strings.Join(made, " ") != want {
		t.Errorf("the workload made %q, want %q on %s", made, want, runtime.GOARCH)
	}
	t.Logf("syscalls made and traced: %q", lines)
}

// removes are the syscalls that remove files and directories on each
// architecture the tests run on (unlinkat twice: a file, a directory).
var removes = map[string]string{"amd64": "unlink rmdir unlinkat unlinkat", "arm64": "unlinkat unlinkat"}
