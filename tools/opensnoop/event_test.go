package opensnoop

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

// rec describes an event as bpf/opensnoop.bpf.c sends it: the argument as
// given, then (-F) the path inside the root filesystem.
type rec struct {
	task  tools.Task
	e     opensnoopEvent
	arg   string
	path  string
	flags uint32 // path flags
}

func (r rec) bytes() []byte {
	e := r.e
	p := (*fspath.Raw)(unsafe.Pointer(&e.Path))
	size := int(unsafe.Sizeof(e))
	p.Flags = r.flags
	data := []byte(r.arg)
	if r.arg != "" {
		p.ArgOff, p.ArgLen = uint16(size), uint16(len(r.arg))
	}
	if r.path != "" {
		p.Dev, p.Off, p.Len = testutil.RootDev, uint16(size+len(data)), uint16(len(r.path))
		data = append(data, r.path...)
	}
	return testutil.TaskRecord(r.task, e, data)
}

func task(pid, tid, uid uint32, comm string, t uint64) tools.Task {
	return tools.Task{KtimeNs: t, Pid: pid, Tid: tid, Ppid: 1, Uid: uid, StartNs: 3, PstartNs: 1, Comm: testutil.Comm(comm)}
}

var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

var samples = []rec{
	{task: task(181, 181, 0, "cat", start+1e9), e: opensnoopEvent{Ret: 3, Dirfd: atFDCWD, Syscall: 1, Flags: unix.O_RDONLY | unix.O_CLOEXEC},
		arg: "/etc/hostname", path: "/etc/hostname"},
	// A failed open relative to a dirfd: its directory resolved, then its name.
	{task: task(182, 190, 1000, "python3", start+2e9), e: opensnoopEvent{Ret: -2, Dirfd: 4, Syscall: 1, Flags: unix.O_RDONLY},
		arg: "../d3//nope", path: "/tmp/d3/nope"},
	{task: task(183, 183, 0, "sh", start+3e9), e: opensnoopEvent{Ret: 5, Dirfd: atFDCWD, Syscall: 2, Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, Mode: 0o644},
		arg: "log/app.log", path: "/var/log/app.log"},
	// Not resolved (a symlink whose target is not in the inode): the start
	// directory and the argument, marked.
	{task: task(184, 184, 0, "x", start+4e9), e: opensnoopEvent{Ret: -13, Dirfd: 9, Syscall: 1},
		arg: "evil\nrow\x1b[1m", path: "/srv", flags: fspath.Unresolved},
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
		{"text-full-path", output.Text, []string{"-F"}},
		{"text-extended-uid-time", output.Text, []string{"-e", "-U", "-T"}},
		{"json", output.JSON, nil},
		{"json-full-path", output.JSON, []string{"-F"}},
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

func TestAppendOctal(t *testing.T) {
	for _, tt := range []struct {
		v     uint64
		width int
		want  string
	}{{0, 8, "00000000"}, {0o101, 8, "00000101"}, {0o644, 4, "0644"}, {0o2000000, 4, "2000000"}} {
		if got := string(appendOctal([]byte("x"), tt.v, tt.width)); got != "x"+tt.want {
			t.Errorf("appendOctal(%o, %d) = %q, want %q", tt.v, tt.width, got, "x"+tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		check   func(*config) bool
	}{
		{nil, false, func(c *config) bool { return c.flags == 0 && !c.rdonly }},
		{[]string{"-f", "O_WRONLY", "-f", "o_creat"}, false, func(c *config) bool { return c.flags == unix.O_WRONLY|unix.O_CREAT }},
		{[]string{"-f", "O_RDONLY"}, false, func(c *config) bool { return c.rdonly && c.flags == 0 }},
		{[]string{"-xFeUT", "-t", "9"}, false, func(c *config) bool {
			return c.failed && c.fullPath && c.extended && c.task.PrintUID && c.task.Time == output.ClockTime && c.task.TID == 9
		}},
		{[]string{"-f", "O_BOGUS"}, true, nil},
		{[]string{"-t", "4294967296"}, true, nil},
		{[]string{"-p", "-1"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, err := parse(t, tt.args...)
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !tt.check(cfg) {
				t.Errorf("config = %+v", cfg)
			}
		})
	}
}

func FuzzEvent(f *testing.F) {
	for _, raw := range sampleEvents() {
		f.Add(raw)
	}
	var bufs [2]bytes.Buffer
	hs := [2]*tools.EventHandler{handler(f, output.Text, &bufs[0], "-e", "-F"), handler(f, output.JSON, &bufs[1], "-F")}
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
		for _, args := range [][]string{{"-e", "-T"}, {"-F", "-U"}} {
			h := handler(t, format, io.Discard, args...)
			for _, raw := range events {
				h.Event(raw)
			}
			if n := testing.AllocsPerRun(500, func() {
				for _, raw := range events {
					h.Event(raw)
				}
			}); n != 0 {
				t.Errorf("format %d %v: %v allocations", format, args, n)
			}
		}
	}
}
