package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestCBinary runs a C workload that forks and execs commands with
// string-literal argv, on the host (built here) and in each test-kernels
// guest (built by run.sh for its architecture).
func TestCBinary(t *testing.T) {
	bin := CBinary(t, "testdata/forkexec.c")
	if again := CBinary(t, "testdata/forkexec.c"); again != bin {
		t.Errorf("second CBinary = %s, want the first build %s", again, bin)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	want := "/bin/true exited 0\n/bin/false exited 1\n/nonexistent/ebtools-test exited 127\n"
	if string(out) != want {
		t.Errorf("%s printed\n%s\nwant\n%s", bin, out, want)
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o005 != 0o005 {
		t.Errorf("%s is not runnable by other users: %v %v", bin, fi.Mode(), err)
	}
}

// TestCBinaryPrebuilt: with EBTOOLS_TESTBIN_DIR set, CBinary returns the
// binary at the source's path in the module, where run.sh builds it.
func TestCBinaryPrebuilt(t *testing.T) {
	dir := t.TempDir()
	want := filepath.Join(dir, "internal", "testutil", "testdata", "forkexec")
	if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(want, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(TestbinEnv, dir)
	if got := CBinary(t, "testdata/forkexec.c"); got != want {
		t.Errorf("CBinary = %s, want %s", got, want)
	}
}
