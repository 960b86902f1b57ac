package tcplife

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

var sampleEvents = [][]byte{
	testutil.Record(tcplifeEvent{KtimeNs: start + 1e9, SpanNs: 1_234_567, TxBytes: 1000, RxBytes: 5000, Pid: 4242,
		Family: afInet, Lport: 43936, Rport: 5432, Laddr: v4(127, 0, 0, 1), Raddr: v4(127, 0, 0, 1),
		Comm: testutil.Comm("psql")}, nil),
	testutil.Record(tcplifeEvent{KtimeNs: start + 2e9, SpanNs: 60_000_000_000, TxBytes: 1 << 30, RxBytes: 12,
		Pid: 1, Family: afInet6, Lport: 443, Rport: 51234,
		Laddr: v6("\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"),
		Raddr: v6("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xc0\x00\x02\x07"),
		Comm:  testutil.Comm("nginx,worker")}, nil),
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		format output.Format
		cfg    config
	}{
		{"text", output.Text, config{}},
		{"text-wide", output.Text, config{wide: true}},
		{"text-csv-time", output.Text, config{csv: true, time: output.ClockTime}},
		{"text-timestamp", output.Text, config{time: output.RelativeTime}},
		{"json", output.JSON, config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := newHandler(tt.cfg, tt.format, output.NewWriter(&buf), output.NewClockAt(boot, start))
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
		check   func(config) bool
	}{
		{nil, false, func(c config) bool { return c.family == 0 && c.lports == nil && c.time == output.NoTime }},
		{[]string{"-L", "80,443", "-D", "5432"}, false, func(c config) bool {
			return len(c.lports) == 2 && c.lports[1] == 443 && len(c.rports) == 1 && c.rports[0] == 5432
		}},
		{[]string{"-4"}, false, func(c config) bool { return c.family == afInet }},
		{[]string{"-6", "-w", "-s", "-T"}, false, func(c config) bool {
			return c.family == afInet6 && c.wide && c.csv && c.time == output.ClockTime
		}},
		{[]string{"-4", "-6"}, true, nil},
		{[]string{"-L", "0"}, true, nil},
		{[]string{"-D", "80,http"}, true, nil},
		{[]string{"-L", "70000"}, true, nil},
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
			h := newHandler(config{csv: format == output.Text}, format, output.NewWriter(&buf), output.NewClockAt(boot, start))
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, buf.Bytes(), format == output.JSON)
			if out := buf.String(); format == output.Text && out != "" && strings.Count(out, ",") != 8 {
				t.Fatalf("CSV row without 9 fields: %q", out)
			}
		}
	})
}

func BenchmarkEvent(b *testing.B) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		b.Run(map[output.Format]string{output.Text: "text", output.JSON: "json"}[format], func(b *testing.B) {
			h := newHandler(config{}, format, output.NewWriter(io.Discard), output.NewClockAt(boot, start))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.Event(sampleEvents[1])
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
