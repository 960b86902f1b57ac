package output

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
)

var (
	boot  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	start = uint64(10 * time.Second)
)

// testColumns covers every kind, alignment and visibility.
var testColumns = []Column{
	{Header: "PID", Key: "pid", Width: 7},
	{Header: "RET", Key: "ret", Width: 4, Align: Right},
	{Key: "json_only"},
	{Header: "NAME", Key: "name", Width: 6},
	{Header: "TEXT_ONLY", Width: 10},
	{Header: "ITEMS", Key: "items", Quote: true},
	{Header: "LAST", Key: "last"},
}

func fillRows() []*Row {
	r1 := NewRow(len(testColumns))
	r1.Reset(start + uint64(1500*time.Millisecond))
	r1.Uint(0, 42)
	r1.Int(1, -13)
	r1.Bool(2, true)
	r1.Str(3, []byte("averyverylongname"), false)
	r1.Str(4, []byte("cut"), true)
	r1.Item(5, []byte("a b"), false)
	r1.Item(5, []byte("c\nd"), true)
	r1.More(5)
	r1.Str(6, []byte("/a path/kept"), false)

	r2 := NewRow(len(testColumns)) // unset values
	r2.Reset(start + uint64(61*time.Second))
	r2.Uint(0, 1)

	r3 := NewRow(len(testColumns)) // values that try to shift columns or hide bytes
	r3.Reset(start + uint64(62*time.Second))
	r3.Uint(0, 2)
	r3.Text(1, "-")
	r3.Str(3, []byte("x 1\u200b2"), false)
	r3.Str(4, nil, false)
	r3.Item(5, []byte("f\xffbad"), false)
	r3.Item(5, []byte("ok "), false)
	r3.Str(6, []byte(" edges\u00a0"), false)
	return []*Row{r1, r2, r3}
}

func TestFormatGolden(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		time   TimeColumn
	}{
		{"text", Text, NoTime},
		{"text-clock", Text, ClockTime},
		{"text-relative", Text, RelativeTime},
		{"json", JSON, NoTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			f := New(w, tt.format, testColumns, Options{Time: tt.time, Clock: NewClockAt(boot, start)})
			if err := f.Header(); err != nil {
				t.Fatal(err)
			}
			for _, r := range fillRows() {
				if err := f.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if tt.format == JSON {
				for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
					if !json.Valid(l) {
						t.Errorf("invalid JSON line %s", l)
					}
				}
			}
			testutil.Golden(t, filepath.Join("testdata", tt.name+".golden"), buf.Bytes())
		})
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"text": Text, "json": JSON} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "JSON", "xml"} {
		if _, err := ParseFormat(bad); err == nil {
			t.Errorf("ParseFormat(%q) succeeded", bad)
		}
	}
}

func TestWriteDoesNotAllocate(t *testing.T) {
	rows := fillRows()
	for _, format := range []Format{Text, JSON} {
		f := New(NewWriter(io.Discard), format, testColumns, Options{Time: ClockTime})
		f.Write(rows[0])
		f.Write(rows[2])
		if n := testing.AllocsPerRun(1000, func() { f.Write(rows[0]); f.Write(rows[1]); f.Write(rows[2]) }); n != 0 {
			t.Errorf("format %d: %v allocations per three rows", format, n)
		}
	}
}

// TestRowWants: a row made for a formatter wants exactly the columns that
// formatter prints: text its order (given or every titled column), JSON
// every keyed column, none nothing; a plain row (NewRow) wants every column.
func TestRowWants(t *testing.T) {
	w := NewWriter(io.Discard)
	for _, tt := range []struct {
		name string
		f    Formatter
		want []bool // by testColumns index
	}{
		{"text", New(w, Text, testColumns, Options{}), []bool{true, true, false, true, true, true, true}},
		{"text order", New(w, Text, testColumns, Options{Order: []int{3, 0}}), []bool{true, false, false, true, false, false, false}},
		{"json", New(w, JSON, testColumns, Options{}), []bool{true, true, true, true, false, true, true}},
		{"none", New(w, None, testColumns, Options{}), make([]bool, len(testColumns))},
		{"plain row", nil, []bool{true, true, true, true, true, true, true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRow(len(testColumns))
			if tt.f != nil {
				r = NewRowFor(len(testColumns), tt.f)
			}
			for col, want := range tt.want {
				if got := r.Wants(col); got != want {
					t.Errorf("Wants(%d) = %v, want %v", col, got, want)
				}
			}
		})
	}
}
