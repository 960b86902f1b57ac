package unlinksnoop

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

// path is one path of an event as bpf/unlinksnoop.bpf.c sends it.
type path struct {
	arg, fs string // the argument as given, the path inside the root filesystem
	flags   uint32
}

// rec describes an event: its paths' strings follow the header.
type rec struct {
	task           tools.Task
	e              unlinksnoopEvent
	old, new, root path
}

func (r rec) bytes() []byte {
	e := r.e
	size := int(unsafe.Sizeof(e))
	var data []byte
	put := func(raw unsafe.Pointer, p path) {
		d := (*fspath.Raw)(raw)
		d.Flags = p.flags
		if p.arg != "" {
			d.ArgOff, d.ArgLen = uint16(size+len(data)), uint16(len(p.arg))
			data = append(data, p.arg...)
		}
		if p.fs != "" {
			d.Dev, d.Off, d.Len = testutil.RootDev, uint16(size+len(data)), uint16(len(p.fs))
			data = append(data, p.fs...)
		}
	}
	put(unsafe.Pointer(&e.Path), r.old)
	put(unsafe.Pointer(&e.NewPath), r.new)
	put(unsafe.Pointer(&e.Root), r.root)
	return testutil.TaskRecord(r.task, e, data)
}

func task(pid, ppid uint32, comm, pcomm string, t uint64) tools.Task {
	return tools.Task{KtimeNs: t, Pid: pid, Tid: pid, Ppid: ppid, StartNs: 9, PstartNs: 8, Comm: testutil.Comm(comm), Pcomm: testutil.Comm(pcomm)}
}

var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

const (
	sysUnlinkat  = uint8(unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_UNLINKAT)
	sysRmdir     = uint8(unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_RMDIR)
	sysRenameat2 = uint8(unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_RENAMEAT2)
	opRmdir      = uint8(unlinksnoopUnlinksnoopOpUNLINKSNOOP_OP_RMDIR)
	replacedYes  = uint8(unlinksnoopUnlinksnoopReplacedUNLINKSNOOP_REPLACED_YES)
)

var samples = []rec{
	// rm through a symlinked directory: the canonical path.
	{task: task(4203, 4064, "rm", "bash", start+1e9), e: unlinksnoopEvent{Dirfd: atFDCWD, Syscall: sysUnlinkat},
		old: path{arg: "/srv/link/app.log", fs: "/srv/data/app.log", flags: fspath.Matched}},
	{task: task(4204, 4064, "rm", "bash", start+2e9), e: unlinksnoopEvent{Ret: -2, Dirfd: atFDCWD, Syscall: sysUnlinkat},
		old: path{arg: "nothing", fs: "/srv/data/nothing"}},
	{task: task(4207, 4064, "python3", "bash", start+3e9), e: unlinksnoopEvent{Ret: -39, Dirfd: atFDCWD, Syscall: sysRmdir, Op: opRmdir},
		old: path{arg: "/srv/data/old", fs: "/srv/data/old"}},
	// logrotate: a rename that replaced a file.
	{task: task(4250, 1, "logrotate", "systemd", start+4e9), e: unlinksnoopEvent{Dirfd: 3, NewDirfd: 3, Syscall: sysRenameat2, Op: opRename, Replaced: replacedYes},
		old: path{arg: "app.log.new", fs: "/var/log/app.log.new"}, new: path{arg: "app.log", fs: "/var/log/app.log"}},
	// A chrooted process: the host path, and its root.
	{task: task(4260, 4259, "busybox", "sh", start+5e9), e: unlinksnoopEvent{Dirfd: atFDCWD, Syscall: sysUnlinkat},
		old: path{arg: "/var/log/app.log", fs: "/srv/jail/var/log/app.log"}, root: path{fs: "/srv/jail"}},
	// Not resolved (a component not in the dentry cache): the start
	// directory and the argument, marked; a newline stays on the row.
	{task: task(4270, 1, "x", "init", start+6e9), e: unlinksnoopEvent{Dirfd: 9, Syscall: sysUnlinkat},
		old: path{arg: "sub/evil\nname", fs: "/tmp", flags: fspath.Unresolved}},
	// Deeper than the walk: the top is missing.
	{task: task(4280, 1, "rm", "init", start+7e9), e: unlinksnoopEvent{Dirfd: atFDCWD, Syscall: sysUnlinkat},
		old: path{arg: "f", fs: "/d/d/f", flags: fspath.DirCut}},
}

func sampleEvents() [][]byte {
	var out [][]byte
	for _, s := range samples {
		out = append(out, s.bytes())
	}
	return out
}

func handler(t testing.TB, format output.Format, w io.Writer, args ...string) *tools.EventHandler {
	t.Helper()
	cfg, err := parse(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.host = fspath.NewHost(fspath.NewMounts(testutil.TempFile(t, "mountinfo", testutil.HostMountinfo)))
	h := tools.NewEventHandler(output.NewWriter(w), format, output.NewClockAt(boot, start), cfg.events((&Tool{}).Program()))
	h.SetCgroups(cgroups.NewResolver(""))
	return h
}

func parse(t testing.TB, args ...string) (*config, error) {
	t.Helper()
	tool := &Tool{}
	if err := testutil.ParseFlags(t, tool.Flags(), args); err != nil {
		return tool.cfg, err
	}
	return tool.cfg, tool.cfg.check()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		format output.Format
		args   []string
	}{
		{"text", output.Text, nil},
		{"text-timestamp", output.Text, []string{"-t"}},
		{"json", output.JSON, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := handler(t, tt.format, &buf, tt.args...)
			h.Header()
			for _, raw := range sampleEvents() {
				if err := h.Event(raw); err != nil {
					t.Fatal(err)
				}
			}
			h.Flush()
			testutil.Golden(t, filepath.Join("testdata", tt.name+".golden"), buf.Bytes())
		})
	}
}

// TestPathFilter: the kernel matches resolved paths by identity (the
// Matched flag); user space matches the spelling of unresolved ones. (The
// directory must exist: its identity is taken.)
func TestPathFilter(t *testing.T) {
	var buf bytes.Buffer
	h := handler(t, output.JSON, &buf, "--path", "/tmp")
	for _, raw := range sampleEvents() {
		if err := h.Event(raw); err != nil {
			t.Fatal(err)
		}
	}
	h.Flush()
	rows := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(rows) != 2 || !strings.Contains(rows[0], `"pid":4203`) || !strings.Contains(rows[1], `"pid":4270`) {
		t.Errorf("rows under /tmp:\n%s\nwant the matched one (4203) and the unresolved one spelled under /tmp (4270)", buf.String())
	}
}

func TestDecodeBounds(t *testing.T) {
	good := samples[3].bytes()
	for name, mutate := range map[string]func(e *unlinksnoopEvent){
		"path beyond the record": func(e *unlinksnoopEvent) { e.Path.Len = 0xffff },
		"new arg beyond":         func(e *unlinksnoopEvent) { e.NewPath.ArgOff = 0xfff0 },
		"root beyond":            func(e *unlinksnoopEvent) { e.Root.Off, e.Root.Len = 0xff00, 0xff },
	} {
		t.Run(name, func(t *testing.T) {
			raw := bytes.Clone(good)
			mutate((*unlinksnoopEvent)(unsafe.Pointer(&raw[0])))
			err := handler(t, output.JSON, io.Discard).Event(raw)
			if err == nil {
				t.Fatal("no error")
			}
			testutil.OneEvent(t, err, ebrt.ErrMalformed, nil, true)
		})
	}
	if err := handler(t, output.JSON, io.Discard).Event(good[:10]); err == nil {
		t.Error("short record: no error")
	}
}

func TestParseConfig(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr bool
	}{
		{nil, false},
		{[]string{"-x", "-p", "1", "-u", "0", "--path", "/"}, false},
		{[]string{"--path", "/nonexistent/ebtools"}, true},
		{[]string{"-p", "4294967296"}, true},
		{[]string{"-T", "-t"}, true},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if _, err := parse(t, tt.args...); (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func FuzzEvent(f *testing.F) {
	for _, raw := range sampleEvents() {
		f.Add(raw)
	}
	var bufs [2]bytes.Buffer
	hs := [2]*tools.EventHandler{handler(f, output.Text, &bufs[0]), handler(f, output.JSON, &bufs[1], "--path", "/tmp")}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for i, h := range hs {
			bufs[i].Reset()
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, bufs[i].Bytes(), i == 1)
		}
	})
}

func BenchmarkEvent(b *testing.B) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		b.Run(map[output.Format]string{output.Text: "text", output.JSON: "json"}[format], func(b *testing.B) {
			h := handler(b, format, io.Discard)
			raw := samples[0].bytes()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.Event(raw)
			}
		})
	}
}

func TestEventDoesNotAllocate(t *testing.T) {
	events := sampleEvents()
	for _, format := range []output.Format{output.Text, output.JSON} {
		h := handler(t, format, io.Discard, "--path", "/tmp")
		for _, raw := range events {
			h.Event(raw)
		}
		if n := testing.AllocsPerRun(500, func() {
			for _, raw := range events {
				h.Event(raw)
			}
		}); n != 0 {
			t.Errorf("format %d: %v allocations", format, n)
		}
	}
}

// TestResultFitsEveryErrno: no errno name (ENOTEMPTY, ENAMETOOLONG,
// ENOTRECOVERABLE, ...) pushes PATH out of its column.
func TestResultFitsEveryErrno(t *testing.T) {
	for errno := 1; errno < 4096; errno++ {
		name := output.ErrnoName(errno)
		if name == "" {
			continue
		}
		var buf bytes.Buffer
		h := handler(t, output.Text, &buf)
		h.Header()
		h.Event(rec{task: task(1, 0, "rm", "sh", start), e: unlinksnoopEvent{Ret: -int32(errno), Dirfd: atFDCWD, Syscall: sysUnlinkat},
			old: path{arg: "p", fs: "/p"}}.bytes())
		h.Flush()
		lines := strings.Split(buf.String(), "\n")
		if h, r := strings.Index(lines[0], "PATH"), strings.Index(lines[1], " /p")+1; h != r {
			t.Errorf("%s: PATH at %d, its value at %d:\n%s", name, h, r, buf.String())
		}
	}
}
