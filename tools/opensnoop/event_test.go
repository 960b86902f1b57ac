package opensnoop

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

// record builds a raw event as bpf/opensnoop.bpf.c sends it.
func record(e opensnoopEvent, path string, argOff int) []byte {
	e.PathLen, e.ArgOff = uint16(len(path)), uint16(argOff)
	return testutil.Record(e, []byte(path))
}

var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

var sampleEvents = [][]byte{
	record(opensnoopEvent{KtimeNs: start + 1e9, Pid: 181, Tid: 181, Ret: 3, Dirfd: atFDCWD, Syscall: 1,
		Flags: unix.O_RDONLY | unix.O_CLOEXEC, Comm: testutil.Comm("cat")}, "/etc/hostname", 0),
	record(opensnoopEvent{KtimeNs: start + 2e9, Pid: 182, Tid: 190, Uid: 1000, Ret: -2, Dirfd: 4, Syscall: 1,
		Flags: unix.O_RDONLY, Comm: testutil.Comm("python3")}, "/tmp/d3/nope", 8),
	record(opensnoopEvent{KtimeNs: start + 3e9, Pid: 183, Tid: 183, Ret: 5, Dirfd: atFDCWD, Syscall: 2,
		Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, Mode: 0o644, Comm: testutil.Comm("sh")}, "/var/log/app.log", 0),
	record(opensnoopEvent{KtimeNs: start + 4e9, Pid: 184, Tid: 184, Ret: -13, Dirfd: 9, Syscall: 1,
		PathFlags: fspath.Unresolved, Comm: testutil.Comm("x")}, "evil\nrow\x1b[1m", 0),
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		format output.Format
		cfg    config
	}{
		{"text", output.Text, config{}},
		{"text-extended-uid-time", output.Text, config{extended: true, printUID: true, time: output.ClockTime}},
		{"json", output.JSON, config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := output.NewWriter(&buf)
			h := newHandler(tt.cfg, tt.format, w, output.NewClockAt(boot, start))
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
		check   func(config) bool
	}{
		{nil, false, func(c config) bool { return c.flags == 0 && !c.rdonly && c.uid == tools.NoUID }},
		{[]string{"-f", "O_WRONLY", "-f", "o_creat"}, false, func(c config) bool { return c.flags == unix.O_WRONLY|unix.O_CREAT }},
		{[]string{"-f", "O_RDONLY"}, false, func(c config) bool { return c.rdonly && c.flags == 0 }},
		{[]string{"-xFeUT", "-t", "9"}, false, func(c config) bool {
			return c.failed && c.fullPath && c.extended && c.printUID && c.time == output.ClockTime && c.tid == 9
		}},
		{[]string{"-f", "O_BOGUS"}, true, nil},
		{[]string{"-t", "0"}, true, nil},
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
			h := newHandler(config{extended: true}, format, output.NewWriter(&buf), output.NewClockAt(boot, start))
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, buf.Bytes(), format == output.JSON)
		}
	})
}

func BenchmarkEvent(b *testing.B) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		b.Run(map[output.Format]string{output.Text: "text", output.JSON: "json"}[format], func(b *testing.B) {
			h := newHandler(config{}, format, output.NewWriter(io.Discard), output.NewClockAt(boot, start))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.Event(sampleEvents[0])
			}
		})
	}
}

func TestEventDoesNotAllocate(t *testing.T) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		h := newHandler(config{extended: true, time: output.ClockTime}, format, output.NewWriter(io.Discard), output.NewClockAt(boot, start))
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
