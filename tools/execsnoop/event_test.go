package execsnoop

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

// rec describes an event as bpf/execsnoop.bpf.c sends it.
type rec struct {
	task     tools.Task
	e        execsnoopEvent
	args     string // argv, NUL-separated as in the new image
	filename string
	interp   string
	exe      string // the path inside the root filesystem
	exeFlags uint32
}

// bytes lays the event out: header, argv, filename, interp, exe.
func (r rec) bytes() []byte {
	e := r.e
	data := []byte(r.args)
	e.ArgsOff, e.ArgsLen = uint16(eventSize), uint16(len(r.args))
	if r.filename != "" {
		e.FilenameOff, e.FilenameLen = uint16(eventSize+len(data)), uint16(len(r.filename))
		data = append(append(data, r.filename...), 0)
	}
	if r.interp != "" {
		e.InterpOff, e.InterpLen = uint16(eventSize+len(data)), uint16(len(r.interp))
		data = append(append(data, r.interp...), 0)
	}
	if r.exe != "" {
		e.Exe.Dev, e.Exe.Off, e.Exe.Len = testutil.RootDev, uint16(eventSize+len(data)), uint16(len(r.exe))
		e.Exe.Flags = r.exeFlags
		data = append(data, r.exe...)
	}
	return testutil.TaskRecord(r.task, e, data)
}

func argv(s ...string) string { return strings.Join(s, "\x00") + "\x00" }

func task(pid, ppid, uid uint32, comm string, t uint64) tools.Task {
	return tools.Task{KtimeNs: t, Pid: pid, Tid: pid, Ppid: ppid, Uid: uid, StartNs: 7, PstartNs: 5,
		Comm: testutil.Comm(comm), Pcomm: testutil.Comm("bash")}
}

// Times are ns after boot; boot is fixed so golden files are stable.
var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

var samples = []rec{
	// fork + execv of string literals: argv from the new image.
	{task: task(4242, 1, 1000, "true", start+1_500_000), e: execsnoopEvent{Argc: 3},
		args: argv("/bin/true", "arg-one", "arg-two"), filename: "/bin/true", exe: "/usr/bin/true"},
	// A failed exec (-x): argv from the caller at entry.
	{task: task(17, 4242, 0, "bash", start+2_000_000_000), e: execsnoopEvent{Ret: -2, Argc: 1, Flags: flagEntry},
		args: argv("/nonexistent"), filename: "/nonexistent"},
	// A hostile argument: newline, escape sequence, bidi override, bad UTF-8.
	{task: task(18, 4242, 0, "echo", start+3_000_000_000), e: execsnoopEvent{Argc: 6},
		args: argv("/bin/echo", "two\nlines", "\x1b[2J", "a\u202eb", "bad\xffutf8", `back\slash "q"`), filename: "/bin/echo", exe: "/usr/bin/echo"},
	// fexecve of a memfd: the kernel names the file /dev/fd/N.
	{task: task(19, 1, 0, "memfd:sshd", start+4_000_000_000), e: execsnoopEvent{Argc: 2, Flags: flagExecveat},
		args: argv("sshd", "-D"), filename: "/dev/fd/3", exe: "/memfd:sshd", exeFlags: fspath.Detached | fspath.Deleted},
	// A script: the interpreter runs it, argv[0] is the interpreter.
	{task: task(20, 1, 0, "backup.sh", start+5_000_000_000), e: execsnoopEvent{Argc: 3, Flags: flagScript},
		args: argv("/bin/sh", "./backup.sh", "--all"), filename: "./backup.sh", interp: "/bin/sh", exe: "/usr/bin/dash"},
	// argv longer than what was kept: the last argument is cut, one missing.
	{task: task(21, 1, 0, "xargs", start+6_000_000_000), e: execsnoopEvent{Argc: 4, Flags: flagMoreArgs},
		args: "/usr/bin/rm\x00a\x00cut-her", filename: "/usr/bin/rm", exe: "/usr/bin/rm"},
	// A failed exec whose argv[1] could not be read from the caller.
	{task: task(22, 1, 0, "sh", start+7_000_000_000), e: execsnoopEvent{Ret: -13, Argc: 3, Flags: flagEntry, CutMask: 1 << 1},
		args: argv("./x", "", "z"), filename: "./x"},
}

func sampleEvents() [][]byte {
	var out [][]byte
	for _, s := range samples {
		out = append(out, s.bytes())
	}
	return out
}

// handler returns the spine's handler for execsnoop with args, on a
// fixed clock and the test host's mounts.
func handler(t testing.TB, format output.Format, w io.Writer, args ...string) *tools.EventHandler {
	t.Helper()
	cfg, err := parse(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	cfg.host = fspath.NewHost(fspath.NewMounts(testutil.TempFile(t, "mountinfo", testutil.HostMountinfo)))
	ev := cfg.events((&Tool{}).Program())
	h := tools.NewEventHandler(output.NewWriter(w), format, output.NewClockAt(boot, start), ev)
	h.SetCgroups(cgroups.NewResolver("")) // not this machine's
	return h
}

// parse parses args into a new config as the subcommand would.
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
		{"text-exe", output.Text, []string{"-e"}},
		{"text-uid-quote-time", output.Text, []string{"-U", "-q", "-T"}},
		{"text-timestamp-max-args", output.Text, []string{"-t", "--max-args", "2"}},
		{"json", output.JSON, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := handler(t, tt.format, &buf, tt.args...)
			if err := h.Header(); err != nil {
				t.Fatal(err)
			}
			for _, raw := range sampleEvents() {
				if err := h.Event(raw); err != nil {
					t.Fatal(err)
				}
			}
			if err := h.Flush(); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", tt.name+".golden"), buf.Bytes())
		})
	}
}

func TestDecodeBounds(t *testing.T) {
	good := samples[0].bytes()
	for name, mutate := range map[string]func(e *execsnoopEvent){
		"args beyond the record":     func(e *execsnoopEvent) { e.ArgsLen = 0xffff },
		"filename beyond the record": func(e *execsnoopEvent) { e.FilenameOff = 0xfff0 },
		"string inside the header":   func(e *execsnoopEvent) { e.InterpOff, e.InterpLen = 4, 2 },
		"exe beyond the record":      func(e *execsnoopEvent) { e.Exe.Len = 0xffff },
	} {
		t.Run(name, func(t *testing.T) {
			raw := bytes.Clone(good)
			mutate((*execsnoopEvent)(unsafe.Pointer(&raw[0])))
			err := handler(t, output.JSON, io.Discard).Event(raw)
			testutil.OneEvent(t, err, ebrt.ErrMalformed, nil, true)
			if err == nil {
				t.Error("no error")
			}
		})
	}
	// A perf buffer record may carry padding: the lengths bound the strings.
	var buf bytes.Buffer
	h := handler(t, output.JSON, &buf)
	err := h.Event(append(good, 0, 0, 0, 0))
	h.Flush()
	if err != nil || !strings.Contains(buf.String(), `"args":["/bin/true","arg-one","arg-two"]`) {
		t.Errorf("padded record: %v %s", err, buf.String())
	}
}

// FuzzEvent feeds arbitrary records to the decoder and both formatters: no
// panic, at most one line per record, valid JSON, no raw control bytes.
func FuzzEvent(f *testing.F) {
	for _, raw := range sampleEvents() {
		f.Add(raw)
	}
	f.Add([]byte{})
	var bufs [2]bytes.Buffer
	hs := [2]*tools.EventHandler{handler(f, output.Text, &bufs[0], "-q", "-e"), handler(f, output.JSON, &bufs[1])}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for i, h := range hs {
			bufs[i].Reset()
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, bufs[i].Bytes(), i == 1)
		}
	})
}

// BenchmarkEvent measures the hot path, decode and format, per event.
func BenchmarkEvent(b *testing.B) {
	for _, bm := range []struct {
		name   string
		format output.Format
	}{{"text", output.Text}, {"json", output.JSON}} {
		b.Run(bm.name, func(b *testing.B) {
			h := handler(b, bm.format, io.Discard)
			raw := samples[0].bytes()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.Event(raw); err != nil {
					b.Fatal(err)
				}
			}
			h.Flush()
		})
	}
}

func TestEventDoesNotAllocate(t *testing.T) {
	events := sampleEvents()
	for _, format := range []output.Format{output.Text, output.JSON} {
		h := handler(t, format, io.Discard, "-q", "-U", "-T", "-e", "-l", "a")
		for _, raw := range events {
			h.Event(raw) // grow buffers
		}
		allocs := testing.AllocsPerRun(1000, func() {
			for _, raw := range events {
				h.Event(raw)
			}
		})
		if allocs != 0 {
			t.Errorf("format %d: %v allocations per run, want 0", format, allocs)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    map[string]any // constants
		wantErr bool
	}{
		{"defaults", nil, map[string]any{"targ_pid": uint32(0), "targ_ppid": uint32(0), "targ_uid": uint32(tools.NoUID), "targ_with_failed": false}, false},
		{"filters", []string{"-x", "-p", "12", "-P", "1", "-u", "1000", "--max-args", "60"},
			map[string]any{"targ_pid": uint32(12), "targ_ppid": uint32(1), "targ_uid": uint32(1000), "targ_with_failed": true}, false},
		{"uid by name", []string{"-u", "root"}, map[string]any{"targ_uid": uint32(0)}, false},
		{"combined short flags", []string{"-xU"}, map[string]any{"targ_with_failed": true}, false},
		{"many args", []string{"--max-args", "16384"}, nil, false},
		{"max-args too big", []string{"--max-args", "16385"}, nil, true},
		{"max-args zero", []string{"--max-args", "0"}, nil, true},
		{"max-args wraps", []string{"--max-args", "4294967297"}, nil, true},
		{"negative pid", []string{"-p", "-3"}, nil, true},
		{"pid wraps to 0", []string{"-p", "4294967296"}, nil, true},
		{"ppid wraps to 1", []string{"-P", "4294967297"}, nil, true},
		{"unknown user", []string{"-u", "no-such-user-ebtools"}, nil, true},
		{"time and timestamp", []string{"-T", "-t"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(t, tt.args...)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error, want a usage error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev := cfg.events((&Tool{}).Program())
			got := cfg.task.Constants(ev.Lineage)
			for k, v := range ev.Constants {
				got[k] = v
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v (%T), want %v (%T)", k, got[k], got[k], v, v)
				}
			}
		})
	}
}
