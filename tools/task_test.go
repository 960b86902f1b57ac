package tools

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
)

var (
	boot  = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	start = uint64(1_000_000_000)
)

// taskRecord is a task with ancestors appended, as ebt_submit sends it,
// followed by a tool part of n bytes.
func taskRecord(t Task, tool int, anc ...Ancestor) []byte {
	rec := append(testutil.Record(t, nil), make([]byte, tool)...)
	if anc == nil {
		return rec
	}
	off := (len(rec) + 7) &^ 7
	rec = append(rec, make([]byte, off-len(rec))...)
	h := (*Task)(unsafe.Pointer(&rec[0]))
	h.AncestorsOff, h.NrAncestors = uint16(off), uint16(len(anc))
	for _, a := range anc {
		rec = append(rec, testutil.Record(a, nil)...)
	}
	return rec
}

func TestDecodeTask(t *testing.T) {
	task := Task{Pid: 7, Comm: testutil.Comm("rm")}
	anc := []Ancestor{{Pid: 6, StartNs: 60, Comm: testutil.Comm("sh")}, {Pid: 1, StartNs: 1, Comm: testutil.Comm("init")}}
	rec := taskRecord(task, 20, anc...)
	got, a, err := DecodeTask(rec)
	if err != nil || got.Pid != 7 || len(a) != 2 || a[0].Pid != 6 || string(Comm(&a[1].Comm)) != "init" {
		t.Fatalf("DecodeTask = %+v, %+v, %v", got, a, err)
	}
	bad := bytes.Clone(rec)
	(*Task)(unsafe.Pointer(&bad[0])).NrAncestors = 3
	if _, _, err := DecodeTask(bad); err != errAncestors {
		t.Errorf("ancestors past the end: %v", err)
	}
	bad = bytes.Clone(rec)
	(*Task)(unsafe.Pointer(&bad[0])).AncestorsOff = 4
	if _, _, err := DecodeTask(bad); err != errAncestors {
		t.Errorf("ancestors inside the task: %v", err)
	}
	if _, _, err := DecodeTask(rec[:taskSize-1]); err != errTaskShort {
		t.Errorf("short: %v", err)
	}
}

// TestEventHandler renders task columns through the spine: JSON keys,
// ancestors, lineage in text, and the user-space filters.
func TestEventHandler(t *testing.T) {
	dir := t.TempDir()
	unit := filepath.Join(dir, "system.slice", "backup.service")
	if err := os.MkdirAll(unit, 0o755); err != nil {
		t.Fatal(err)
	}
	ino := testutil.Inode(t, unit)
	task := Task{KtimeNs: start + 1e9, StartNs: 500, PstartNs: 400, CgroupId: ino, Pid: 42, Tid: 43, Ppid: 41, Uid: 1000,
		Gid: 100, Mntns: 4026531840, Pidns: 4026531836, NsPid: 42, Comm: testutil.Comm("rm"), Pcomm: testutil.Comm("sh")}
	anc := []Ancestor{{Pid: 41, StartNs: 400, Comm: testutil.Comm("sh")}, {Pid: 40, StartNs: 300, Comm: testutil.Comm("a<-b")}}
	rec := taskRecord(task, 0, anc...)
	run := func(format output.Format, cfg TaskConfig, layout ...int) string {
		t.Helper()
		if err := cfg.Check(); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		ev := Events{Task: &cfg, Columns: Columns(), Layout: layout,
			Fill: func(*output.Row, []byte) (bool, error) { return true, nil }}
		h := NewEventHandler(output.NewWriter(&buf), format, output.NewClockAt(boot, start), ev)
		h.SetCgroups(cgroups.NewResolver(dir))
		if format == output.Text {
			h.Header()
		}
		if err := h.Event(rec); err != nil {
			t.Fatal(err)
		}
		h.Flush()
		return buf.String()
	}
	js := run(output.JSON, TaskConfig{}, ColPID)
	var got map[string]any
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	want := map[string]any{"pid": 42.0, "tid": 43.0, "ppid": 41.0, "uid": 1000.0, "gid": 100.0, "comm": "rm", "pcomm": "sh",
		"exec_id": "42:500", "pexec_id": "41:400", "cgroup": "/system.slice/backup.service", "unit": "backup.service",
		"container_id": nil, "mntns": 4026531840.0, "pidns": 4026531836.0, "ns_pid": 42.0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if a, _ := json.Marshal(got["ancestors"]); string(a) != `[{"comm":"sh","exec_id":"41:400","pid":41},{"comm":"a\u003c-b","exec_id":"40:300","pid":40}]` {
		t.Errorf("ancestors = %s", a)
	}
	text := run(output.Text, TaskConfig{PrintLineage: true, PrintUnit: true, PrintUID: true}, ColPID, ColComm)
	if want := "UID    PID     UNIT                     LINEAGE                  COMM\n" +
		`1000   42      backup.service           rm<-sh<-a\x3c-b          rm` + "\n"; text != want {
		t.Errorf("text:\n%s\nwant:\n%s", text, want)
	}
	for _, tt := range []struct {
		name string
		cfg  TaskConfig
		keep bool
	}{
		{"name", TaskConfig{Name: "r"}, true},
		{"name miss", TaskConfig{Name: "x"}, false},
		{"unit", TaskConfig{Unit: "backup.service"}, true},
		{"unit miss", TaskConfig{Unit: "cron.service"}, false},
		{"container miss", TaskConfig{Container: "abc"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if out := run(output.JSON, tt.cfg, ColPID); (out != "") != tt.keep {
				t.Errorf("printed %q, want kept %v", out, tt.keep)
			}
		})
	}
}

// TestTaskRowAncestors: a row made for its formatter gets the ancestors
// in the form that formatter prints; a row that wants every column gets
// both forms. (That the other form is not built shows only in
// BenchmarkLineage.)
func TestTaskRowAncestors(t *testing.T) {
	task := Task{KtimeNs: start + 1e9, StartNs: 500, Pid: 42, Tid: 42, Ppid: 41, Comm: testutil.Comm("rm")}
	anc := []Ancestor{{Pid: 41, StartNs: 400, Comm: testutil.Comm("sh")}, {Pid: 1, StartNs: 1, Comm: testutil.Comm("init")}}
	rec := taskRecord(task, 0, anc...)
	dt, da, err := DecodeTask(rec)
	if err != nil {
		t.Fatal(err)
	}
	const lineage, ancestors = "rm<-sh<-init", `"ancestors":[{"pid":41,"comm":"sh","exec_id":"41:400"},{"pid":1,"comm":"init","exec_id":"1:1"}]`
	for _, tt := range []struct {
		name   string
		format output.Format
		every  bool // output.NewRow: every column wanted
		want   string
	}{
		{"text", output.Text, false, lineage},
		{"text, every column", output.Text, true, lineage},
		{"json", output.JSON, false, ancestors},
		{"json, every column", output.JSON, true, ancestors},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := output.NewWriter(&buf)
			f := output.New(w, tt.format, Columns(), output.Options{Clock: output.NewClockAt(boot, start), Order: []int{ColPID, ColLineage}})
			r := output.NewRowFor(NumTaskCols, f)
			if tt.every {
				r = output.NewRow(NumTaskCols)
			}
			r.Reset(dt.KtimeNs)
			var tr taskRow
			tr.set(r, dt, da, nil)
			if err := f.Write(r); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("got %s, want it to contain %s", buf.String(), tt.want)
			}
		})
	}
}

// BenchmarkLineage is the task columns of an event with eight ancestors:
// text with --print-lineage builds only LINEAGE, JSON only ancestors.
func BenchmarkLineage(b *testing.B) {
	task := Task{KtimeNs: start + 1e9, StartNs: 500, PstartNs: 400, Pid: 42, Tid: 42, Ppid: 41,
		Comm: testutil.Comm("cat"), Pcomm: testutil.Comm("bash")}
	var anc []Ancestor
	for i := range 8 {
		anc = append(anc, Ancestor{Pid: uint32(41 - i), StartNs: uint64(400 - i), Comm: testutil.Comm("bash")})
	}
	rec := taskRecord(task, 0, anc...)
	for _, format := range []output.Format{output.Text, output.JSON} {
		b.Run(map[output.Format]string{output.Text: "text", output.JSON: "json"}[format], func(b *testing.B) {
			cfg := TaskConfig{PrintLineage: true}
			if err := cfg.Check(); err != nil {
				b.Fatal(err)
			}
			ev := Events{Task: &cfg, Columns: Columns(), Layout: []int{ColPID, ColComm},
				Fill: func(*output.Row, []byte) (bool, error) { return true, nil }}
			h := NewEventHandler(output.NewWriter(io.Discard), format, output.NewClockAt(boot, start), ev)
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Event(rec); err != nil {
					b.Fatal(err)
				}
			}
			h.Flush()
		})
	}
}

func TestTaskFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
	}{
		{[]string{"-p", "4194304"}, false},
		{[]string{"-p", "0"}, true}, // 0 would turn the kernel filter off
		{[]string{"--tree", "0"}, true},
		{[]string{"--mntns", "0"}, true},
		{[]string{"-p", "4194305"}, true},
		{[]string{"-p", "4294967296"}, true},
		{[]string{"--tid", "4294967297"}, true},
		{[]string{"--ppid", "-1"}, true},
		{[]string{"--tree", "99999999"}, true},
		{[]string{"--mntns", "4294967296"}, true},
		{[]string{"-u", "no-such-user-ebtools"}, true},
		{[]string{"-T", "-t"}, true},
		{[]string{"-u", "root", "-T", "--tree", "1"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var c TaskConfig
			flags := append(c.TimeFlags(output.NoTime, "time", "T", "timestamp", "t"), c.Flags(Letters{})...)
			err := testutil.ParseFlags(t, flags, tt.args)
			if err == nil {
				err = c.Check()
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	c := TaskConfig{PrintUID: true, PrintContainer: true}
	if got := c.Order(ColComm, ColPID, 99); len(got) != 5 || got[0] != ColUID || got[3] != ColContainer || got[4] != 99 {
		t.Errorf("Order = %v", got)
	}
	if got := (&TaskConfig{PrintUID: true}).Order(ColPID, ColUID, 99); len(got) != 3 {
		t.Errorf("UID twice: %v", got)
	}
}

// TestDescendants builds a fake /proc: comms with spaces and parentheses
// must not confuse the parent pid.
func TestDescendants(t *testing.T) {
	proc := t.TempDir()
	for pid, stat := range map[string]string{
		"10": "10 (init) S 1 ...", "11": "11 (a b) c) S 10 ...", "12": "12 (x) S 11 ...", "13": "13 (y) S 1 ...",
	} {
		os.MkdirAll(filepath.Join(proc, pid), 0o755)
		os.WriteFile(filepath.Join(proc, pid, "stat"), []byte(stat), 0o644)
	}
	got := descendants(10, proc)
	if len(got) != 3 || got[0] != 10 {
		t.Errorf("descendants = %v, want 10 11 12", got)
	}
}
