package killsnoop

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

func event(pid uint32, comm string, t uint64, e killsnoopEvent) []byte {
	task := tools.Task{KtimeNs: t, Pid: pid, Tid: pid, Ppid: 1, StartNs: 5, PstartNs: 1, Comm: testutil.Comm(comm)}
	return testutil.TaskRecord(task, e, nil)
}

var sampleEvents = [][]byte{
	event(4242, "bash", start+1e9, killsnoopEvent{Sig: 15, Tpid: 4300, Found: 1, Tcomm: testutil.Comm("sleep")}),
	event(4242, "bash", start+2e9, killsnoopEvent{Sig: 9, Tpid: 999999, Ret: -3}),
	event(7, "systemd", start+3e9, killsnoopEvent{Sig: 1, Tpid: -4300, Found: 1, Tcomm: testutil.Comm("x y\nz")}),
	event(8, "pthread", start+4e9, killsnoopEvent{Sig: 0, Tpid: 9, Syscall: 2}),
	event(8, "rt", start+5e9, killsnoopEvent{Sig: 63, Tpid: 9, Ret: -1, Syscall: 1}),
}

func handler(t testing.TB, format output.Format, w io.Writer, args ...string) *tools.EventHandler {
	t.Helper()
	cfg, err := parse(t, args...)
	if err != nil {
		t.Fatal(err)
	}
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
	for _, tt := range []struct {
		name   string
		format output.Format
		args   []string
	}{
		{"text", output.Text, nil},
		{"text-time-uid", output.Text, []string{"-T", "-U"}},
		{"json", output.JSON, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := handler(t, tt.format, &buf, tt.args...)
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
	for _, tt := range []struct {
		args    []string
		sig     uint32
		wantErr bool
	}{
		{nil, 0, false},
		{[]string{"-s", "SIGKILL"}, 9, false},
		{[]string{"-s", "term"}, 15, false},
		{[]string{"-s", "9"}, 9, false},
		{[]string{"-s", "SIGRTMAX"}, 0, true}, // not a name unix knows: refused, not turned off
		{[]string{"-s", "0"}, 0, true},
		{[]string{"-s", "65"}, 0, true},
		{[]string{"-s", "4294967305"}, 0, true},
		{[]string{"-s", "NOPE"}, 0, true},
		{[]string{"-p", "4294967296"}, 0, true},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c, err := parse(t, tt.args...)
			if (err != nil) != tt.wantErr || (err == nil && c.sig != tt.sig) {
				t.Errorf("sig %d, err %v; want sig %d, error %v", c.sig, err, tt.sig, tt.wantErr)
			}
		})
	}
}

func FuzzEvent(f *testing.F) {
	for _, raw := range sampleEvents {
		f.Add(raw)
	}
	var bufs [2]bytes.Buffer
	hs := [2]*tools.EventHandler{handler(f, output.Text, &bufs[0]), handler(f, output.JSON, &bufs[1])}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for i, h := range hs {
			bufs[i].Reset()
			err := h.Event(raw)
			h.Flush()
			testutil.OneEvent(t, err, ebrt.ErrMalformed, bufs[i].Bytes(), i == 1)
		}
	})
}

func TestEventDoesNotAllocate(t *testing.T) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		h := handler(t, format, io.Discard, "-T")
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
