package execsnoop

import (
	"bytes"
	"errors"
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
)

// record builds a raw event as bpf/execsnoop.bpf.c sends it: header, then
// the NUL-terminated filename and argv.
func record(e execsnoopEvent, strs ...string) []byte {
	args := strings.Join(strs, "\x00") + "\x00"
	e.ArgsCount, e.ArgsSize = uint32(len(strs)), uint32(len(args))
	return testutil.Record(e, []byte(args))
}

// Times are ns after boot; boot is fixed so golden files are stable.
var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

var sampleEvents = [][]byte{
	record(execsnoopEvent{KtimeNs: start + 1_500_000, Pid: 4242, Tid: 4242, Ppid: 1, Uid: 1000, Comm: testutil.Comm("true")},
		"/bin/true", "true", "arg-one", "arg-two"),
	record(execsnoopEvent{KtimeNs: start + 2_000_000_000, Pid: 17, Tid: 17, Ppid: 4242, Retval: -2, Comm: testutil.Comm("bash")},
		"/nonexistent", "/nonexistent"),
	// A hostile argument: newline, escape sequence, bidi override, bad UTF-8.
	record(execsnoopEvent{KtimeNs: start + 3_000_000_000, Pid: 18, Tid: 18, Ppid: 4242, Comm: testutil.Comm("echo")},
		"/bin/echo", "echo", "two\nlines", "\x1b[2J", "a\u202eb", "bad\xffutf8", `back\slash "q"`),
	// fexecve: no filename; argv[1] was cut, more args than --max-args.
	record(execsnoopEvent{KtimeNs: start + 4_000_000_000, Pid: 19, Tid: 19, Ppid: 1, Comm: testutil.Comm("a-very-long-comm"),
		Flags: flagExecveat | flagMoreArgs, CutMask: 1 << 2}, "", "prog", "cut-here", "x"),
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		format output.Format
		cfg    config
	}{
		{"text", output.Text, config{}},
		{"text-uid-quote-time", output.Text, config{printUID: true, quote: true, time: output.ClockTime}},
		{"text-timestamp", output.Text, config{time: output.RelativeTime}},
		{"json", output.JSON, config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := output.NewWriter(&buf)
			h := newHandler(tt.cfg, tt.format, w, output.NewClockAt(boot, start))
			if err := h.Header(); err != nil {
				t.Fatal(err)
			}
			for _, raw := range sampleEvents {
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

func TestDecode(t *testing.T) {
	good := sampleEvents[0]
	tooLong := bytes.Clone(good)
	(*execsnoopEvent)(unsafe.Pointer(&tooLong[0])).ArgsSize = 1 << 20
	tests := []struct {
		name    string
		raw     []byte
		wantErr error
		args    string
	}{
		{"complete", good, nil, "/bin/true\x00true\x00arg-one\x00arg-two\x00"},
		{"perf padding ignored", append(bytes.Clone(good), 0, 0, 0, 0), nil, "/bin/true\x00true\x00arg-one\x00arg-two\x00"},
		{"short", good[:eventSize-1], errShort, ""},
		{"empty", nil, errShort, ""},
		{"args_size beyond record", tooLong, errArgsSize, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, args, err := decode(tt.raw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(args) != tt.args {
				t.Errorf("args = %q, want %q", args, tt.args)
			}
		})
	}
}

// FuzzEvent feeds arbitrary records to the decoder and both formatters: no
// panic, at most one line per record, valid JSON, no raw control bytes.
func FuzzEvent(f *testing.F) {
	for _, raw := range sampleEvents {
		f.Add(raw)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, format := range []output.Format{output.Text, output.JSON} {
			var buf bytes.Buffer
			w := output.NewWriter(&buf)
			h := newHandler(config{quote: true}, format, w, output.NewClockAt(boot, start))
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, buf.Bytes(), format == output.JSON)
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
			w := output.NewWriter(io.Discard)
			h := newHandler(config{}, bm.format, w, output.NewClockAt(boot, start))
			raw := sampleEvents[0]
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
	for _, format := range []output.Format{output.Text, output.JSON} {
		h := newHandler(config{quote: true, printUID: true, time: output.ClockTime}, format,
			output.NewWriter(io.Discard), output.NewClockAt(boot, start))
		for _, raw := range sampleEvents {
			h.Event(raw) // grow buffers
		}
		allocs := testing.AllocsPerRun(1000, func() {
			for _, raw := range sampleEvents {
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
		{"defaults", nil, map[string]any{"targ_pid": uint32(0), "targ_ppid": uint32(0), "targ_uid": uint32(tools.NoUID), "targ_failed": false, "targ_max_args": uint32(20)}, false},
		{"filters", []string{"-x", "-p", "12", "-P", "1", "-u", "1000", "--max-args", "60"},
			map[string]any{"targ_pid": uint32(12), "targ_ppid": uint32(1), "targ_uid": uint32(1000), "targ_failed": true, "targ_max_args": uint32(60)}, false},
		{"uid by name", []string{"-u", "root"}, map[string]any{"targ_uid": uint32(0)}, false},
		{"combined short flags", []string{"-xU"}, map[string]any{"targ_failed": true}, false},
		{"max-args too big", []string{"--max-args", "61"}, nil, true},
		{"max-args zero", []string{"--max-args", "0"}, nil, true},
		{"negative pid", []string{"-p", "-3"}, nil, true},
		{"unknown user", []string{"-u", "no-such-user-ebtools"}, nil, true},
		{"time and timestamp", []string{"-T", "-t"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, perr := testutil.Parse(t, (&Tool{}).Flags(), tt.args, parseConfig)
			if tt.wantErr {
				if !errors.Is(perr, tools.ErrUsage) {
					t.Fatalf("err = %v, want a usage error", perr)
				}
				return
			}
			if perr != nil {
				t.Fatal(perr)
			}
			got := cfg.constants()
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %v (%T), want %v (%T)", k, got[k], got[k], v, v)
				}
			}
		})
	}
}
