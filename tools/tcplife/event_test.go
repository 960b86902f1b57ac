package tcplife

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
)

var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

func v4(a, b, c, d byte) (x [16]uint8) { x[0], x[1], x[2], x[3] = a, b, c, d; return }

func v6(s string) (x [16]uint8) {
	copy(x[:], []byte(s)) // 16 raw bytes
	return
}

func event(task tools.Task, e tcplifeEvent) []byte { return testutil.TaskRecord(task, e, nil) }

var sampleEvents = [][]byte{
	event(tools.Task{KtimeNs: start + 1e9, Pid: 4242, Tid: 4242, Ppid: 4000, Uid: 1000, Gid: 1000, StartNs: 900, PstartNs: 800,
		Comm: testutil.Comm("psql"), Pcomm: testutil.Comm("bash")},
		tcplifeEvent{DurationNs: 1_234_567, TxBytes: 1000, RxBytes: 5000,
			Family: afInet, Lport: 43936, Rport: 5432, Laddr: v4(127, 0, 0, 1), Raddr: v4(127, 0, 0, 1)}),
	event(tools.Task{KtimeNs: start + 2e9, Pid: 1, Tid: 1, StartNs: 1, Comm: testutil.Comm("nginx,worker")},
		tcplifeEvent{DurationNs: 60_000_000_000, TxBytes: 1 << 30, RxBytes: 12, Family: afInet6, Lport: 443, Rport: 51234,
			Laddr: v6("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"),
			Raddr: v6("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xc0\x00\x02\x07")}),
}

// handler returns the spine's handler for cfg, on a fixed clock.
func handler(cfg *config, format output.Format, w io.Writer) *tools.EventHandler {
	if err := cfg.check(); err != nil {
		panic(err)
	}
	h := tools.NewEventHandler(output.NewWriter(w), format, output.NewClockAt(boot, start), cfg.events((&Tool{}).Program()))
	h.SetCgroups(cgroups.NewResolver("")) // not this machine's
	return h
}

// parse parses args into a new config as the subcommand would.
func parse(t *testing.T, args ...string) (*config, error) {
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
		{"text-wide", output.Text, []string{"-w"}},
		{"text-csv-time", output.Text, []string{"-s", "-T"}},
		{"text-timestamp", output.Text, []string{"-t"}},
		{"json", output.JSON, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			h := handler(cfg, tt.format, &buf)
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

func TestParseConfig(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		check   func(*config) bool
	}{
		{nil, false, func(c *config) bool { return c.family == 0 && c.lports == nil && c.task.Time == output.NoTime }},
		{[]string{"-L", "80,443", "-D", "5432"}, false, func(c *config) bool {
			return len(c.lports) == 2 && c.lports[1] == 443 && len(c.rports) == 1 && c.rports[0] == 5432
		}},
		{[]string{"-4"}, false, func(c *config) bool { return c.family == afInet }},
		{[]string{"-6", "-w", "-s", "-T"}, false, func(c *config) bool {
			return c.family == afInet6 && c.wide && c.csv && c.task.Time == output.ClockTime
		}},
		{[]string{"-T", "-t"}, true, nil},
		{[]string{"-p", "4294967296"}, true, nil},
		{[]string{"-p", "-1"}, true, nil},
		{[]string{"-4", "-6"}, true, nil},
		{[]string{"-L", "0"}, true, nil},
		{[]string{"-D", "80,http"}, true, nil},
		{[]string{"-L", "70000"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, perr := parse(t, tt.args...)
			if tt.wantErr != (perr != nil) {
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
	var bufs [2]bytes.Buffer
	hs := [2]*tools.EventHandler{handler(&config{csv: true}, output.Text, &bufs[0]), handler(&config{}, output.JSON, &bufs[1])}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for i, h := range hs {
			bufs[i].Reset()
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, bufs[i].Bytes(), i == 1)
			if out := bufs[i].String(); i == 0 && out != "" && strings.Count(out, ",") != 8 {
				t.Fatalf("CSV row without 9 fields: %q", out)
			}
		}
	})
}

func BenchmarkEvent(b *testing.B) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		b.Run(map[output.Format]string{output.Text: "text", output.JSON: "json"}[format], func(b *testing.B) {
			h := handler(&config{}, format, io.Discard)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.Event(sampleEvents[1])
			}
		})
	}
}

func TestEventDoesNotAllocate(t *testing.T) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		h := handler(&config{}, format, io.Discard)
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
