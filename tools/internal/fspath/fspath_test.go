package fspath

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ebtools/ebtools/output"
)

func render(t *testing.T, p Path, format output.Format) string {
	t.Helper()
	var buf bytes.Buffer
	w := output.NewWriter(&buf)
	cols := []output.Column{{Header: "PATH", Key: "path"}}
	f := output.New(w, format, cols, output.Options{Clock: output.NewClockAt(time.Unix(0, 0), 0)})
	r := output.NewRow(1)
	r.Reset(0)
	p.Set(r, 0)
	if err := f.Write(r); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.String()
}

func TestSet(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		argOff   uint16
		flags    uint32
		text     string
		resolved bool
		cut      bool
	}{
		{"absolute", "/tmp/d/rel", 7, 0, "/tmp/d/rel", true, false},
		{"unresolved dirfd", "rel", 0, Unresolved, "rel (unresolved)", false, false},
		{"deep directory", "/c/d/f", 5, DirCut, ".../c/d/f", true, true},
		{"argument cut", "/tmp/aaaa", 5, ArgCut, "/tmp/aaaa...", true, true},
		{"unreadable", "", 0, Unreadable, "(unreadable)", false, false},
		{"newline in name", "/tmp/a\nb", 5, 0, `/tmp/a\nb`, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decode([]byte(tt.raw+"trailing"), uint16(len(tt.raw)), tt.argOff, tt.flags)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(t, p, output.Text); got != tt.text+"\n" {
				t.Errorf("text = %q, want %q", got, tt.text)
			}
			var j struct{ Path string }
			if err := json.Unmarshal([]byte(render(t, p, output.JSON)), &j); err != nil || j.Path != tt.raw {
				t.Errorf("JSON path = %q (%v), want %q", j.Path, err, tt.raw)
			}
			if p.Resolved() != tt.resolved || p.Truncated() != tt.cut {
				t.Errorf("Resolved, Truncated = %v, %v; want %v, %v", p.Resolved(), p.Truncated(), tt.resolved, tt.cut)
			}
			if string(p.Arg) != tt.raw[tt.argOff:] {
				t.Errorf("Arg = %q, want %q", p.Arg, tt.raw[tt.argOff:])
			}
		})
	}
}

func TestDecodeBounds(t *testing.T) {
	if _, err := Decode([]byte("abc"), 4, 0, 0); err != errLen {
		t.Errorf("length beyond record: %v", err)
	}
	if _, err := Decode([]byte("abc"), 2, 3, 0); err != errArgOff {
		t.Errorf("argument offset beyond path: %v", err)
	}
}

// FuzzDecode: any record decodes or errors, and what decodes prints as one
// line of escaped text and valid JSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("/tmp/d/rel"), uint16(10), uint16(7), uint32(0))
	f.Add([]byte("a\nb\x1b"), uint16(4), uint16(0), uint32(Unresolved|ArgCut))
	f.Add([]byte{}, uint16(0), uint16(0), uint32(Unreadable))
	f.Fuzz(func(t *testing.T, b []byte, n, argOff uint16, flags uint32) {
		p, err := Decode(b, n, argOff, flags)
		if err != nil {
			return
		}
		text := render(t, p, output.Text)
		if strings.Count(text, "\n") != 1 || strings.ContainsAny(strings.TrimSuffix(text, "\n"), "\r\x1b\x00") {
			t.Fatalf("text not one clean line: %q", text)
		}
		if js := render(t, p, output.JSON); !json.Valid([]byte(js)) {
			t.Fatalf("invalid JSON %q", js)
		}
	})
}
