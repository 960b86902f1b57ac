package output

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ebtools/ebtools/internal/testutil"
)

// fuzzColumns: two free strings and a number in the middle of the row, and
// a list as the last, free-text column.
var fuzzColumns = []Column{
	{Header: "PID", Key: "pid", Width: 6},
	{Header: "COMM", Key: "comm", Width: 16},
	{Header: "OP", Key: "op", Width: 6},
	{Header: "RET", Key: "ret", Width: 4, Align: Right},
	{Header: "ARGS", Key: "args"},
}

const fuzzFields = 4 // whitespace-separated fields before ARGS

// fuzzRow fills a row of fuzzColumns; the list items are args split at NUL.
func fuzzRow(comm, op, args []byte) *Row {
	r := NewRow(len(fuzzColumns))
	r.Reset(start)
	r.Uint(0, 7)
	r.Str(1, comm, false)
	r.Str(2, op, false)
	r.Int(3, -39)
	for _, a := range bytes.Split(args, []byte{0}) {
		r.Item(4, a, false)
	}
	return r
}

func fuzzSeeds(f *testing.F) {
	f.Add([]byte("bash"), []byte("unlink"), []byte("/bin/ls\x00-l"))
	f.Add([]byte("x 1 2 3"), []byte(""), []byte("  lead"))
	f.Add([]byte("-"), []byte("\u00a0"), []byte("-"))
	f.Add([]byte("f\xffbad"), []byte("\u202e\u200b"), []byte("a\nb\x00\xfe"))
	f.Add([]byte(`\x20`), []byte("\t"), []byte(""))
	f.Add([]byte("\U000e0041"), []byte("\u3000"), []byte("\u2028"))
}

// unescapeText decodes what AppendText and AppendField write: the
// documented escapes \\, \", \n, \t, \r, \xNN, \uNNNN and \UNNNNNNNN.
func unescapeText(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 == len(s) {
			return nil, errors.New("lone backslash at the end")
		}
		i++
		switch c := s[i]; c {
		case '\\', '"':
			b = append(b, c)
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case 'r':
			b = append(b, '\r')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+1+n > len(s) {
				return nil, errors.New("short escape")
			}
			v, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
			if err != nil {
				return nil, err
			}
			if c == 'x' {
				b = append(b, byte(v))
			} else {
				b = utf8.AppendRune(b, rune(v))
			}
			i += n
		default:
			return nil, errors.New("unknown escape \\" + string(c))
		}
	}
	return b, nil
}

// cellBytes is what a text cell shows for value v: "-" for an empty value.
func cellBytes(t *testing.T, cell string) []byte {
	t.Helper()
	if cell == noValue {
		return nil
	}
	b, err := unescapeText(cell)
	if err != nil {
		t.Fatalf("cell %q: %v", cell, err)
	}
	return b
}

// FuzzTextRow: whatever the strings, a text row is one line with the same
// number of whitespace-separated fields before its last column, and every
// cell decodes back to its exact bytes.
func FuzzTextRow(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, comm, op, args []byte) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		fm := New(w, Text, fuzzColumns, Options{Clock: NewClockAt(boot, start)})
		if err := fm.Write(fuzzRow(comm, op, args)); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		testutil.OneLine(t, buf.Bytes(), false)
		line := strings.TrimSuffix(buf.String(), "\n")
		fields := strings.Fields(line)
		if len(fields) < fuzzFields+1 {
			t.Fatalf("%d fields, want at least %d: %q", len(fields), fuzzFields+1, line)
		}
		if fields[0] != "7" || fields[3] != "-39" {
			t.Fatalf("fixed fields moved: %q", line)
		}
		for _, c := range []struct {
			cell string
			want []byte
		}{{fields[1], comm}, {fields[2], op}} {
			if got := cellBytes(t, c.cell); !bytes.Equal(got, c.want) {
				t.Fatalf("cell %q decodes to %q, want %q (line %q)", c.cell, got, c.want, line)
			}
		}
		// The last column follows RET (right-aligned, so ending at its
		// value) and one space; it is free text with spaces kept.
		last := afterFields(line, fuzzFields)[1:]
		want := bytes.ReplaceAll(args, []byte{0}, []byte{' '})
		if got := cellBytes(t, last); !bytes.Equal(got, want) {
			t.Fatalf("last column %q decodes to %q, want %q", last, got, want)
		}
	})
}

// afterFields returns line after its first n whitespace-separated fields.
func afterFields(line string, n int) string {
	i := 0
	for ; n > 0; n-- {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		for i < len(line) && line[i] != ' ' {
			i++
		}
	}
	return line[i:]
}

// FuzzJSONRow: a JSON row is one valid object per line; a string field is
// the value itself when it is valid UTF-8, and otherwise "<key>_b64" holds
// its exact bytes (lists: each item's).
func FuzzJSONRow(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, comm, op, args []byte) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		fm := New(w, JSON, fuzzColumns, Options{Clock: NewClockAt(boot, start)})
		if err := fm.Write(fuzzRow(comm, op, args)); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		testutil.OneLine(t, buf.Bytes(), true)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string][]byte{"comm": comm, "op": op} {
			if got := decodeJSONString(t, obj, key); !bytes.Equal(got, want) {
				t.Fatalf("%s decodes to %q, want %q: %s", key, got, want, buf.Bytes())
			}
		}
		var items []string
		if err := json.Unmarshal(obj["args"], &items); err != nil {
			t.Fatal(err)
		}
		var b64 []string
		if raw, ok := obj["args"+B64Suffix]; ok {
			if err := json.Unmarshal(raw, &b64); err != nil || len(b64) != len(items) {
				t.Fatalf("args_b64 %s for %d items: %v", raw, len(items), err)
			}
		}
		want := bytes.Split(args, []byte{0})
		if len(want) != len(items) {
			t.Fatalf("%d items, want %d", len(items), len(want))
		}
		anyInvalid := false
		for i, w := range want {
			anyInvalid = anyInvalid || !utf8.Valid(w)
			got := []byte(items[i])
			if b64 != nil {
				var err error
				if got, err = base64.StdEncoding.DecodeString(b64[i]); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, w) {
				t.Fatalf("item %d decodes to %q, want %q", i, got, w)
			}
		}
		if anyInvalid != (b64 != nil) {
			t.Fatalf("args_b64 present: %v, an item is invalid UTF-8: %v", b64 != nil, anyInvalid)
		}
	})
}

// decodeJSONString applies the documented decoding to obj[key]: the bytes
// of "<key>_b64" if present, else the string.
func decodeJSONString(t *testing.T, obj map[string]json.RawMessage, key string) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(obj[key], &s); err != nil {
		t.Fatal(err)
	}
	raw, ok := obj[key+B64Suffix]
	if !ok {
		return []byte(s)
	}
	var enc string
	if err := json.Unmarshal(raw, &enc); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	if utf8.Valid(b) {
		t.Fatalf("%s_b64 present for valid UTF-8 %q", key, b)
	}
	if s != string([]rune(string(b))) {
		t.Fatalf("%s = %q, want the bytes %q with U+FFFD for invalid ones", key, s, b)
	}
	return b
}
