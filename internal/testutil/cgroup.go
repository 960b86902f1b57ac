package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Cgroup2 returns where cgroup2 is mounted, mounting it in a temporary
// directory if it is not (as in a bare test kernel).
func Cgroup2(t testing.TB) string {
	t.Helper()
	// This thread's mounts: /proc/self is the main thread's, which a
	// test may have left in a mount namespace of its own.
	b, err := os.ReadFile("/proc/thread-self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	dir := t.TempDir()
	if err := unix.Mount("cgroup2", dir, "cgroup2", 0, ""); err != nil {
		t.Fatalf("mount cgroup2: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// Cgroup makes the cgroup v2 directory rel (e.g. "system.slice/x.service")
// under a directory of this test process's own, and returns its path and
// an open fd of it, for SysProcAttr.CgroupFD. Both go when t ends (once
// the processes in it are gone).
func Cgroup(t testing.TB, rel string) (string, int) {
	t.Helper()
	dir := filepath.Join(Cgroup2(t), fmt.Sprintf("ebtools-test-%d", os.Getpid()), rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fd)
		// Innermost first: a cgroup goes only once empty of children.
		top := filepath.Join(Cgroup2(t), fmt.Sprintf("ebtools-test-%d", os.Getpid()))
		for d := dir; strings.HasPrefix(d, top); d = filepath.Dir(d) {
			os.Remove(d)
		}
	})
	return dir, fd
}
