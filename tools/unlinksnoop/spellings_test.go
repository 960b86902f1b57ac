package unlinksnoop

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// spelling is one way to reach a file under base/data (or to miss it).
type spelling struct {
	name string
	// setup makes what the operation needs under base; op is the helper's
	// operations (main_test.go), base substituted for "B".
	setup func(t *testing.T, base string)
	op    []string
	// want is the row in the --path base/data run ("": none), in the
	// --path base/other run: "OP PATH [-> NEW] RESULT", base as "B".
	data, other string
	root        bool // the row carries JSON root = base (chroot)
}

func file(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// spellings are the cases: every spelling of a path under the
// watched directory, and ones that only look as if they were.
var spellings = []spelling{
	{name: "symlinked component", setup: func(t *testing.T, b string) { file(t, b+"/data/f1") },
		op: []string{"unlink|B/link/f1"}, data: "unlink B/data/f1 0"},
	{name: "double slash", setup: func(t *testing.T, b string) { file(t, b+"/data/f2") },
		op: []string{"unlink|B//data//f2"}, data: "unlink B/data/f2 0"},
	{name: "dot", setup: func(t *testing.T, b string) { file(t, b+"/data/f3") },
		op: []string{"unlink|B/./data/./f3"}, data: "unlink B/data/f3 0"},
	{name: "dot-dot in", setup: func(t *testing.T, b string) { file(t, b+"/data/f4") },
		op: []string{"unlink|B/x/../data/f4"}, data: "unlink B/data/f4 0"},
	{name: "bind mount", setup: func(t *testing.T, b string) { file(t, b+"/data/f5") },
		op: []string{"unlink|B/bind/f5"}, data: "unlink B/data/f5 0"},
	{name: "dot-dot out", setup: func(t *testing.T, b string) { file(t, b+"/other/f6") },
		op: []string{"unlink|B/data/../other/f6"}, other: "unlink B/other/f6 0"},
	{name: "symlink then dot-dot", setup: func(t *testing.T, b string) { file(t, b+"/other/f7") },
		// link/.. is data/.., the parent of the link's target: B.
		op: []string{"unlink|B/link/../other/f7"}, other: "unlink B/other/f7 0"},
	{name: "relative to cwd", setup: func(t *testing.T, b string) { file(t, b+"/data/f8") },
		op: []string{"cd|B/data", "unlink|f8"}, data: "unlink B/data/f8 0"},
	{name: "relative to cwd through a symlink", setup: func(t *testing.T, b string) { file(t, b+"/data/f9") },
		op: []string{"cd|B/link", "unlink|../data/f9"}, data: "unlink B/data/f9 0"},
	{name: "relative to dirfd", setup: func(t *testing.T, b string) { file(t, b+"/data/f10") },
		op: []string{"unlinkat|B/bind|f10|0"}, data: "unlink B/data/f10 0"},
	{name: "chroot", setup: func(t *testing.T, b string) { file(t, b+"/data/f11") },
		op: []string{"chroot|B", "unlink|/data/f11"}, data: "unlink B/data/f11 0", root: true},
	{name: "chroot, absolute symlink", setup: func(t *testing.T, b string) {
		file(t, b+"/data/f12")
		if err := os.Symlink("/data", b+"/abs"); err != nil {
			t.Fatal(err)
		}
	}, op: []string{"chroot|B", "unlink|/abs/f12"}, data: "unlink B/data/f12 0", root: true},
	{name: "missing file", op: []string{"unlink|B/link/none"}, data: "unlink B/data/none ENOENT"},
	{name: "rmdir", setup: func(t *testing.T, b string) { os.Mkdir(b+"/data/dir13", 0o755) },
		op: []string{"rmdir|B/link/dir13/"}, data: "rmdir B/data/dir13 0"},
	{name: "rename replacing", setup: func(t *testing.T, b string) { file(t, b+"/data/f14"); file(t, b+"/new14") },
		op: []string{"rename|B/new14|B/link/f14"}, data: "rename B/new14 -> B/data/f14 0 replaced"},
	{name: "rename moving out", setup: func(t *testing.T, b string) { file(t, b+"/data/f15") },
		op: []string{"rename|B/link/f15|B/other/g15"},
		// g15 was never looked up, so not in the cache: whether the
		// rename replaced a file is not known (replaced is null).
		data: "rename B/data/f15 -> B/other/g15 0", other: "rename B/data/f15 -> B/other/g15 0"},
	{name: "rename onto a name known to be free", setup: func(t *testing.T, b string) {
		file(t, b+"/data/f19")
		os.Stat(b + "/other/g19") // a negative dentry: known not to exist
	}, op: []string{"rename|B/data/f19|B/other/g19"},
		// "kept", unless memory pressure (this sandbox drops caches now
		// and then) evicted the negative dentry: then not known.
		data: "rename B/data/f19 -> B/other/g19 0 kept?", other: "rename B/data/f19 -> B/other/g19 0 kept?"},
	{name: "rename failing", op: []string{"rename|B/data/none16|B/data/x16"}, data: "rename B/data/none16 -> B/data/x16 ENOENT"},
	{name: "rename, no replace, failing", setup: func(t *testing.T, b string) { file(t, b+"/data/f17"); file(t, b+"/data/g17") },
		op: []string{fmt.Sprintf("renameat2|B/data/f17|B/data/g17|%d", unix.RENAME_NOREPLACE)}, data: "rename B/data/f17 -> B/data/g17 EEXIST"},
	{name: "elsewhere", setup: func(t *testing.T, b string) { file(t, b+"/f18") }, op: []string{"unlink|B/f18"}},
}

// TestSpellings deletes and renames files under base/data and base/other by
// every spelling, on the disk's filesystem and on tmpfs, on both event
// buffers: a --path base/data run shows exactly the rows whose directory
// is base/data (by identity), with the canonical path; a --path base/other
// run exactly the others.
func TestSpellings(t *testing.T) {
	testutil.RequirePrivileged(t)
	t.Run("disk", func(t *testing.T) {
		testutil.EachForced(t, func(t *testing.T, force string) { testSpellings(t, "disk", force) })
	})
	// tmpfs on the ring buffer only: the buffer does not depend on the
	// filesystem.
	t.Run("tmpfs", func(t *testing.T) { testSpellings(t, "tmpfs", "") })
}

func testSpellings(t *testing.T, fs, force string) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if fs == "tmpfs" {
		if err := unix.Mount("ebtools-test", base, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(base, unix.MNT_DETACH) })
	}
	for _, d := range []string{"data", "other", "x", "bind"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("data", base+"/link"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(base+"/data", base+"/bind", "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(base+"/bind", unix.MNT_DETACH) })
	for _, s := range spellings {
		if s.setup != nil {
			s.setup(t, base)
		}
	}
	data := testutil.StartForced(t, force, "-o", "json", "unlinksnoop", "--path", base+"/data")
	other := testutil.StartForced(t, force, "-o", "json", "unlinksnoop", "--path", base+"/other")
	for _, s := range spellings {
		var op []string
		for _, o := range s.op {
			op = append(op, strings.ReplaceAll(o, "B", base))
		}
		runOps(t, op...)
	}
	file(t, base+"/data/end")
	file(t, base+"/other/end")
	runOps(t, "unlink|"+base+"/data/end", "unlink|"+base+"/other/end")

	for _, run := range []struct {
		name string
		p    *testutil.Proc
		want func(spelling) string
	}{
		{"data", data, func(s spelling) string { return s.data }},
		{"other", other, func(s spelling) string { return s.other }},
	} {
		var want, got []string
		for _, s := range spellings {
			if w := run.want(s); w != "" {
				want = append(want, strings.ReplaceAll(w, "B", base))
			}
		}
		roots := 0
		for {
			l := run.p.WaitLine(t, func(string) bool { return true })
			e := decodeJSON(t, l)
			if e.Path == base+"/"+run.name+"/end" {
				break
			}
			got = append(got, summary(e))
			if e.Root != nil {
				roots++
				if *e.Root != base {
					t.Errorf("%s: root %q, want %q", run.name, *e.Root, base)
				}
			}
		}
		for i, w := range want {
			if opt, ok := strings.CutSuffix(w, " kept?"); ok {
				want[i] = opt + " kept"
				for j, g := range got {
					if g == opt {
						got[j] = opt + " kept"
					}
				}
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("--path %s/%s rows:\n%s\nwant:\n%s", base, run.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if wantRoots := map[string]int{"data": 2, "other": 0}[run.name]; roots != wantRoots {
			t.Errorf("%s: %d rows with a root, want %d", run.name, roots, wantRoots)
		}
	}
}

// summary is a row as spellings write it: "OP PATH [-> NEW] RESULT [replaced|kept]".
func summary(e jsonEvent) string {
	s := e.Op + " " + e.Path
	if e.NewPath != nil {
		s += " -> " + *e.NewPath
	}
	if e.Error != nil {
		s += " " + *e.Error
	} else {
		s += fmt.Sprint(" ", e.Ret)
	}
	if e.Replaced != nil && e.Ret == 0 {
		s += map[bool]string{true: " replaced", false: " kept"}[*e.Replaced]
	}
	return s
}
