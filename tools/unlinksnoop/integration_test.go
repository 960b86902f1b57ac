package unlinksnoop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// Every test works in its own temp dir and filters on it with --path, so
// other deletions on the machine cannot reach it.

// selfComm is the comm of this test binary, as the kernel cuts it.
func selfComm() string {
	b, _ := os.ReadFile("/proc/self/comm")
	return strings.TrimSpace(string(b))
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// row is a text row without its TIME column.
func row(pid, ppid int, comm, pcomm, op, result, path string) string {
	return fmt.Sprintf("%-7d %-7d %-16s %-16s %-6d %-6s %-15s %s", pid, ppid, comm, pcomm, 0, op, result, path)
}

func withoutTime(l string) string {
	_, rest, _ := strings.Cut(l, " ")
	return rest
}

func run(t *testing.T, dir string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("%s %v: %v %s", name, args, err, out)
	}
	return cmd
}

func unlinkat(t *testing.T, dir, name string, flags int) *exec.Cmd {
	t.Helper()
	return runOps(t, fmt.Sprintf("unlinkat|%s|%s|%d", dir, name, flags))
}

// runOps runs the helper (main_test.go) with operations; it returns once they
// are done.
func runOps(t *testing.T, op ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], op...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper %q: %v %s", op, err, out)
	}
	return cmd
}

func TestTextRows(t *testing.T) {
	testutil.RequirePrivileged(t)
	testutil.EachForced(t, testTextRows)
}

func testTextRows(t *testing.T, force string) {
	dir := t.TempDir()
	p := testutil.StartForced(t, force, "unlinksnoop", "--path", dir)
	header := p.WaitLine(t, func(string) bool { return true })
	if want := "TIME     PID     PPID    COMM             PCOMM            UID    OP     RESULT          PATH"; header != want {
		t.Errorf("header:\n got %q\nwant %q", header, want)
	}
	me, comm := os.Getpid(), selfComm()
	check := func(name, want string) {
		t.Helper()
		got := p.WaitLine(t, func(string) bool { return true })
		if withoutTime(got) != want {
			t.Errorf("%s:\n got %q\nwant %q", name, withoutTime(got), want)
		}
	}

	// cd DIR && rm rel
	touch(t, filepath.Join(dir, "rel"))
	cmd := run(t, dir, "rm", "rel")
	check("relative rm", row(cmd.Process.Pid, me, "rm", comm, "unlink", "0", dir+"/rel"))

	// From cwd /: unlinkat(open(DIR), "x", 0) and unlinkat(fd, "sub", AT_REMOVEDIR).
	touch(t, filepath.Join(dir, "x"))
	cmd = unlinkat(t, dir, "x", 0)
	check("unlinkat dirfd", row(cmd.Process.Pid, me, comm, comm, "unlink", "0", dir+"/x"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	cmd = unlinkat(t, dir, "sub", unix.AT_REMOVEDIR)
	check("unlinkat AT_REMOVEDIR", row(cmd.Process.Pid, me, comm, comm, "rmdir", "0", dir+"/sub"))

	// rm of a missing file.
	cmd = run(t, "/", "rm", dir+"/none")
	check("missing file", row(cmd.Process.Pid, me, "rm", comm, "unlink", "ENOENT", dir+"/none"))

	// A file inside a tmpfs mounted under DIR: the path crosses the mount.
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := unix.Mount("ebtools-test", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	os.Mkdir(filepath.Join(mnt, "a"), 0o755)
	touch(t, filepath.Join(mnt, "a", "f"))
	cmd = run(t, filepath.Join(mnt, "a"), "rm", "f")
	check("across a mount", row(cmd.Process.Pid, me, "rm", comm, "unlink", "0", mnt+"/a/f"))

	// A newline in a file name must not make a second row.
	touch(t, filepath.Join(dir, "evil\nname"))
	cmd = run(t, dir, "rm", "evil\nname")
	check("newline in name", row(cmd.Process.Pid, me, "rm", comm, "unlink", "0", dir+`/evil\nname`))

	if _, code := p.Stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

type jsonEvent struct {
	PID, PPID, TID, UID int
	Comm, PComm, Op     string
	Syscall             string
	Ret                 int
	Error               *string
	Path, Arg           string
	NewPath             *string `json:"new_path"`
	NewArg              *string `json:"new_arg"`
	Root                *string
	Replaced            *bool
	Dirfd               *int
	PathResolved        bool `json:"path_resolved"`
	PathTruncated       bool `json:"path_truncated"`
}

func decodeJSON(t *testing.T, l string) jsonEvent {
	t.Helper()
	var e jsonEvent
	if err := json.Unmarshal([]byte(l), &e); err != nil {
		t.Fatalf("invalid JSON %q: %v", l, err)
	}
	return e
}

func TestJSONRows(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	p := testutil.Start(t, "-o", "json", "unlinksnoop", "--path", dir)

	touch(t, filepath.Join(dir, "x"))
	cmd := unlinkat(t, dir, "x", 0)
	e := decodeJSON(t, p.WaitLine(t, func(string) bool { return true }))
	if e.PID != cmd.Process.Pid || e.PPID != os.Getpid() || e.Op != "unlink" || e.Syscall != "unlinkat" ||
		e.Ret != 0 || e.Error != nil || e.Path != dir+"/x" || e.Arg != "x" || e.Dirfd == nil || *e.Dirfd < 3 ||
		!e.PathResolved || e.PathTruncated {
		t.Errorf("unlinkat event = %+v", e)
	}

	run(t, dir, "rm", "missing")
	e = decodeJSON(t, p.WaitLine(t, func(string) bool { return true }))
	if e.Ret != -2 || e.Error == nil || *e.Error != "ENOENT" || e.Path != dir+"/missing" || e.Arg != "missing" || e.Dirfd != nil {
		t.Errorf("failed rm event = %+v", e)
	}

	p.Stop(t, syscall.SIGTERM)
}

// TestDeepPath: 150 directory levels, deeper than the kernel-side walk of
// names: the path is marked as truncated, never printed as a wrong
// absolute path, and --path still matches it by identity, from the top of
// the tree or from the middle, and not from elsewhere.
func TestDeepPath(t *testing.T) {
	testutil.RequirePrivileged(t)
	top := t.TempDir()
	other := t.TempDir()
	deep, middle := top, ""
	for i := 0; i < 150; i++ {
		deep = filepath.Join(deep, "d")
		if i == 70 {
			middle = deep
		}
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, deep+"/f")
	pTop := testutil.Start(t, "-o", "json", "unlinksnoop", "--path", top)
	pMid := testutil.Start(t, "unlinksnoop", "--path", middle)
	pOther := testutil.Start(t, "unlinksnoop", "--path", other)
	unlinkat(t, deep, "f", 0)
	touch(t, other+"/end")
	unlinkat(t, other, "end", 0)

	e := decodeJSON(t, pTop.WaitLine(t, func(l string) bool { return strings.Contains(l, `"arg":"f"`) }))
	if !e.PathTruncated || !e.PathResolved || !strings.HasSuffix(deep+"/f", e.Path) || len(e.Path) < 128*2 {
		t.Errorf("deep path event: truncated %v, path %q", e.PathTruncated, e.Path)
	}
	l := pMid.WaitLine(t, func(l string) bool { return strings.HasSuffix(l, "/d/f") })
	if !strings.Contains(l, " .../d/d/") {
		t.Errorf("text row %q does not mark the missing top", l)
	}
	if l := pOther.WaitLine(t, func(l string) bool { return !strings.HasPrefix(l, "TIME") }); !strings.HasSuffix(l, other+"/end") {
		t.Errorf("--path elsewhere printed %q before its own row", l)
	}
}

func TestFailedOnly(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	p := testutil.Start(t, "unlinksnoop", "-x", "--path", dir)
	touch(t, filepath.Join(dir, "ok"))
	run(t, dir, "rm", "ok")
	run(t, dir, "rm", "missing")
	p.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "TIME") })
	if got := p.WaitLine(t, func(string) bool { return true }); !strings.HasSuffix(got, " ENOENT          "+dir+"/missing") {
		t.Errorf("first row with -x = %q, want the failed rm", got)
	}
}

// TestTenThousand is the acceptance load: 10,000 deletions in a tight loop.
// Under emulation (the test-kernels guests) both guest CPUs run on one
// host thread, so the reader runs only between the loop's slices: there
// the deletions are paced to 50,000 a second (testutil.Paced),
// with a pause of a millisecond at least every 100 (unpaced, a 6.1 guest
// lost 852 of the 10,000 to its full 1 MiB ring, and paced to 200,000
// over the slowdown, which the loop never outran there, a 6.12 guest 991:
// the reader not run once meanwhile). Here, on real CPUs, they run as
// fast as they can.
func TestTenThousand(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	const n = 10000
	for i := 0; i < n; i++ {
		touch(t, filepath.Join(dir, strconv.Itoa(i)))
	}
	touch(t, filepath.Join(dir, "end"))
	p := testutil.Start(t, "unlinksnoop", "-p", strconv.Itoa(os.Getpid()), "--path", dir)
	rate := testutil.Paced(50000)
	began := time.Now()
	for i := 0; i < n; i++ {
		if err := unix.Unlink(filepath.Join(dir, strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if rate > 0 && i%100 == 99 {
			ahead := time.Duration(i+1)*time.Second/time.Duration(rate) - time.Since(began)
			time.Sleep(max(ahead, time.Millisecond))
		}
	}
	unix.Unlink(filepath.Join(dir, "end"))
	rows := 0
	for {
		l := p.WaitLine(t, func(string) bool { return true })
		if strings.HasSuffix(l, dir+"/end") {
			break
		}
		if strings.Contains(l, " unlink 0               "+dir+"/") {
			rows++
		}
	}
	p.Stop(t, syscall.SIGTERM)
	if rows != n {
		t.Errorf("rows = %d, want %d", rows, n)
	}
	if !strings.Contains(p.Stderr(), "lost=0") {
		t.Errorf("events lost:\n%s", p.Stderr())
	}
}

// TestLongPath: a path of almost PATH_MAX bytes comes out whole.
func TestLongPath(t *testing.T) {
	testutil.RequirePrivileged(t)
	long := t.TempDir()
	for i := 0; i < 30; i++ {
		long = filepath.Join(long, strings.Repeat(strconv.Itoa(i%10), 120))
	}
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	if len(long) < 3600 || len(long) > 4000 {
		t.Fatalf("test path is %d bytes", len(long))
	}
	touch(t, long+"/f")
	fd, err := unix.Open(long, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	p := testutil.Start(t, "-o", "json", "unlinksnoop", "-p", strconv.Itoa(os.Getpid()))
	if err := unix.Unlinkat(fd, "f", 0); err != nil {
		t.Fatal(err)
	}
	e := decodeJSON(t, p.WaitLine(t, func(l string) bool { return strings.Contains(l, `"arg":"f"`) }))
	if e.Path != long+"/f" || e.PathTruncated || !e.PathResolved {
		t.Errorf("path of %d bytes came out as %d bytes (truncated %v)", len(long)+2, len(e.Path), e.PathTruncated)
	}
}
