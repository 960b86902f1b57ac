package unlinksnoop

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

// record builds a raw event as bpf/unlinksnoop.bpf.c sends it.
func record(e unlinksnoopEvent, path string, argOff int) []byte {
	e.PathLen, e.ArgOff = uint16(len(path)), uint16(argOff)
	return testutil.Record(e, []byte(path))
}

var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

var sampleEvents = [][]byte{
	record(unlinksnoopEvent{KtimeNs: start + 1e9, Pid: 4242, Tid: 4242, Ppid: 4200, Dirfd: atFDCWD,
		Syscall: 1, Comm: testutil.Comm("rm"), Pcomm: testutil.Comm("bash")}, "/tmp/d/rel", 7),
	record(unlinksnoopEvent{KtimeNs: start + 2e9, Pid: 7, Tid: 8, Ppid: 1, Uid: 1000, Ret: -2, Dirfd: atFDCWD,
		Syscall: 0, Comm: testutil.Comm("logrotate"), Pcomm: testutil.Comm("systemd")}, "/var/log/none", 0),
	record(unlinksnoopEvent{KtimeNs: start + 3e9, Pid: 9, Tid: 9, Ppid: 1, Ret: 0, Dirfd: 3, Syscall: 1, Rmdir: 1,
		Comm: testutil.Comm("python3"), Pcomm: testutil.Comm("sh")}, "/tmp/d2/sub", 8),
	record(unlinksnoopEvent{KtimeNs: start + 4e9, Pid: 10, Tid: 10, Ppid: 1, Ret: -13, Dirfd: 5, Syscall: 1,
		PathFlags: fspath.Unresolved, Comm: testutil.Comm("evil\x1b[2J"), Pcomm: testutil.Comm("sh")}, "rel\nfake row", 0),
	record(unlinksnoopEvent{KtimeNs: start + 5e9, Pid: 11, Tid: 11, Ppid: 1, Dirfd: atFDCWD, Syscall: 1,
		PathFlags: fspath.DirCut, Comm: testutil.Comm("rm"), Pcomm: testutil.Comm("sh")}, "/d/d/f", 5),
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		format output.Format
		time   output.TimeColumn
	}{
		{"text", output.Text, output.ClockTime},
		{"text-timestamp", output.Text, output.RelativeTime},
		{"json", output.JSON, output.ClockTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := output.NewWriter(&buf)
			h := newHandler(config{time: tt.time}, tt.format, w, output.NewClockAt(boot, start))
			h.Header()
			for _, raw := range sampleEvents {
				if err := h.Event(raw); err != nil {
					t.Fatal(err)
				}
			}
			h.Flush()
			testutil.Golden(t, filepath.Join("testdata", tt.name+".golden"), buf.Bytes())
		})
	}
}

func TestPathFilter(t *testing.T) {
	tests := []struct {
		path, prefix string
		want         bool
	}{
		{"/tmp/d/rel", "/tmp/d", true},
		{"/tmp/d", "/tmp/d", true},
		{"/tmp/dd/rel", "/tmp/d", false},
		{"/var/x", "/", true},
		{"rel", "/", false},
	}
	for _, tt := range tests {
		if got := under([]byte(tt.path), []byte(tt.prefix)); got != tt.want {
			t.Errorf("under(%q, %q) = %v, want %v", tt.path, tt.prefix, got, tt.want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		check   func(config) bool
	}{
		{nil, false, func(c config) bool { return c.uid == tools.NoUID && c.time == output.ClockTime && c.prefix == nil }},
		{[]string{"-x", "-p", "5", "-u", "0"}, false, func(c config) bool { return c.failed && c.pid == 5 && c.uid == 0 }},
		{[]string{"--path", "/tmp/d/"}, false, func(c config) bool { return string(c.prefix) == "/tmp/d" }},
		{[]string{"-t"}, false, func(c config) bool { return c.time == output.RelativeTime }},
		{[]string{"-p", "0"}, true, nil},
		{[]string{"-T", "-t"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, perr := testutil.Parse(t, (&Tool{}).Flags(), tt.args, parseConfig)
			if tt.wantErr != (perr != nil) || (perr != nil && !errors.Is(perr, tools.ErrUsage)) {
				t.Fatalf("err = %v, want error %v", perr, tt.wantErr)
			}
			if perr == nil && !tt.check(cfg) {
				t.Errorf("config = %+v", cfg)
			}
		})
	}
}

func FuzzEvent(f *testing.F) {
	for _, raw := range sampleEvents {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, format := range []output.Format{output.Text, output.JSON} {
			var buf bytes.Buffer
			h := newHandler(config{}, format, output.NewWriter(&buf), output.NewClockAt(boot, start))
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, buf.Bytes(), format == output.JSON)
		}
	})
}

func BenchmarkEvent(b *testing.B) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		b.Run(map[output.Format]string{output.Text: "text", output.JSON: "json"}[format], func(b *testing.B) {
			h := newHandler(config{time: output.ClockTime}, format, output.NewWriter(io.Discard), output.NewClockAt(boot, start))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.Event(sampleEvents[0])
			}
		})
	}
}

func TestEventDoesNotAllocate(t *testing.T) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		h := newHandler(config{time: output.ClockTime}, format, output.NewWriter(io.Discard), output.NewClockAt(boot, start))
		for _, raw := range sampleEvents {
			h.Event(raw)
		}
		if n := testing.AllocsPerRun(500, func() {
			for _, raw := range sampleEvents {
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
		w := output.NewWriter(&buf)
		h := newHandler(config{time: output.ClockTime}, output.Text, w, output.NewClockAt(boot, start))
		h.Header()
		h.Event(record(unlinksnoopEvent{KtimeNs: start, Pid: 1, Ret: -int32(errno), Dirfd: atFDCWD, Syscall: 1,
			Comm: testutil.Comm("rm"), Pcomm: testutil.Comm("sh")}, "/p", 0))
		h.Flush()
		lines := strings.Split(buf.String(), "\n")
		if h, r := strings.Index(lines[0], "PATH"), strings.Index(lines[1], " /p")+1; h != r {
			t.Errorf("%s: PATH at %d, its value at %d:\n%s", name, h, r, buf.String())
		}
	}
}
