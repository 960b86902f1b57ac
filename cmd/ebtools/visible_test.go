package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// openAs opens path from a thread whose comm is comm (the thread ends with
// the goroutine, so its name goes with it).
func openAs(t *testing.T, comm, path string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the renamed thread ends here
		name, err := unix.BytePtrFromString(comm)
		if err == nil {
			err = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0)
		}
		if err != nil {
			errc <- err
			return
		}
		f, err := os.Open(path)
		if err == nil {
			f.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestEveryByteVisible runs opensnoop on files whose names hide bytes
// (a zero-width space, an invalid UTF-8 byte) from a thread whose comm
// fakes columns: text shows every byte escaped with the columns in place,
// JSON carries the exact bytes.
func TestEveryByteVisible(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir := t.TempDir()
	hidden := filepath.Join(dir, "pass\u200bwd")
	invalid := filepath.Join(dir, "f\xffbad")
	for _, p := range []string{hidden, invalid} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pid := strconv.Itoa(os.Getpid())

	text := testutil.Start(t, "opensnoop", "-p", pid)
	openAs(t, "x 1 2 3", hidden)
	row := text.WaitLine(t, func(l string) bool { return strings.Contains(l, dir) })
	f := strings.Fields(row)
	if want := filepath.Join(dir, `pass\u200bwd`); len(f) != 5 || f[1] != `x\x201\x202\x203` || f[4] != want {
		t.Errorf("row %q: fields %q; want 5 with COMM x\\x201\\x202\\x203 and PATH %s", row, f, want)
	}

	js := testutil.Start(t, "-o", "json", "opensnoop", "-p", pid)
	openAs(t, "json", invalid)
	var ev struct {
		Path    string
		PathB64 string `json:"path_b64"`
	}
	line := js.WaitLine(t, func(l string) bool { return strings.Contains(l, `"comm":"json"`) })
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(ev.PathB64)
	if err != nil || string(b) != invalid || ev.Path != strings.ToValidUTF8(invalid, "\ufffd") {
		t.Errorf("JSON %s: path_b64 decodes to %q (%v), want %q", line, b, err, invalid)
	}
}
