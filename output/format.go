package output

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Format selects how events are printed.
type Format uint8

// Output formats, as named by -o/--output. None prints no events: for a
// tool run only for its metrics.
const (
	Text Format = iota
	JSON
	None
)

// ParseFormat parses an -o/--output value.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	case "none":
		return None, nil
	}
	return 0, fmt.Errorf("parse output format %q: want text, json or none", s)
}

// TimeColumn selects the optional leading time column of text output.
type TimeColumn uint8

// Time columns, as BCC's -T (wall clock) and -t (seconds since start).
const (
	NoTime TimeColumn = iota
	ClockTime
	RelativeTime
)

// Options tune a Formatter.
type Options struct {
	// Time adds a leading time column to text output. JSON always has "time".
	Time TimeColumn
	// Clock converts event times; nil means a Clock started now.
	Clock *Clock
	// CSV makes text output comma-separated and unpadded, as BCC's -s/--csv
	// (commas inside values are escaped as \x2c).
	CSV bool
	// Order lists the text columns by index, in the order they are shown;
	// nil shows every column with a Header, in column order. JSON keeps the
	// column order whatever Order says.
	Order []int
}

// Formatter prints a tool's header and rows.
type Formatter interface {
	// Header writes the column titles (text) or nothing (JSON).
	Header() error
	// Write renders one row. It does not allocate once buffers have grown.
	Write(r *Row) error
	// Prints reports whether Write prints column col (Row.Wants).
	Prints(col int) bool
}

// New returns a Formatter of format f for cols, writing to w.
func New(w *Writer, f Format, cols []Column, opts Options) Formatter {
	if opts.Clock == nil {
		opts.Clock = NewClock()
	}
	switch f {
	case JSON:
		return newJSON(w, cols, opts.Clock)
	case None:
		return noneFormatter{}
	}
	return newText(w, cols, opts)
}

// noneFormatter prints nothing (-o none).
type noneFormatter struct{}

func (noneFormatter) Header() error    { return nil }
func (noneFormatter) Write(*Row) error { return nil }
func (noneFormatter) Prints(int) bool  { return false }

// Clock converts bpf_ktime_get_ns() values to wall-clock time.
type Clock struct {
	boot  int64  // Unix ns at CLOCK_MONOTONIC zero
	start uint64 // CLOCK_MONOTONIC ns when the clock was made
}

// NewClock returns a Clock whose start (for RelativeTime) is now.
func NewClock() *Clock {
	mono := monotonicNow()
	return &Clock{boot: time.Now().UnixNano() - int64(mono), start: mono}
}

// NewClockAt returns a Clock for which CLOCK_MONOTONIC zero was at boot and
// whose start is the monotonic time start (for tests and replays).
func NewClockAt(boot time.Time, start uint64) *Clock {
	return &Clock{boot: boot.UnixNano(), start: start}
}

// Wall returns the wall-clock time of a CLOCK_MONOTONIC timestamp.
func (c *Clock) Wall(ktime uint64) time.Time { return time.Unix(0, c.boot+int64(ktime)) }

// Since returns how long after the clock's start ktime lies.
func (c *Clock) Since(ktime uint64) time.Duration {
	return time.Duration(int64(ktime) - int64(c.start))
}

type jsonFormatter struct {
	w     *Writer
	cols  []Column
	clock *Clock
	line  []byte
	secs  secondCache
	// b64 holds each column's `,"<key>_b64":`, the field that carries a
	// value's exact bytes when they are not valid UTF-8.
	b64 []string
}

// B64Suffix ends the name of the JSON field that holds a string's exact
// bytes, base64-encoded (RFC 4648 with padding), next to the string field
// itself when the bytes are not valid UTF-8 (which the string field must
// show with U+FFFD in their place). For a list, "<key>_b64" is a list of
// every item encoded so, present when any item is not valid UTF-8.
const B64Suffix = "_b64"

func newJSON(w *Writer, cols []Column, clock *Clock) *jsonFormatter {
	f := &jsonFormatter{w: w, cols: cols, clock: clock, b64: make([]string, len(cols))}
	for i, c := range cols {
		if c.Key != "" {
			f.b64[i] = `,"` + c.Key + B64Suffix + `":`
		}
	}
	return f
}

// secondCache keeps the formatted form of the last whole second seen:
// events come in bursts within the same second, and time formatting is
// otherwise the most expensive part of a row.
type secondCache struct {
	sec int64
	buf []byte
}

// append appends t's whole second in layout, in t's location.
func (c *secondCache) append(b []byte, t time.Time, layout string) []byte {
	if sec := t.Unix(); sec != c.sec || c.buf == nil {
		c.sec, c.buf = sec, t.Truncate(time.Second).AppendFormat(c.buf[:0], layout)
	}
	return append(b, c.buf...)
}

// appendNanos appends "." and the 9-digit nanoseconds of t.
func appendNanos(b []byte, t time.Time) []byte {
	ns := t.Nanosecond()
	b = append(b, '.')
	for div := 100_000_000; div > 0; div /= 10 {
		b = append(b, byte('0'+ns/div%10))
	}
	return b
}

func (f *jsonFormatter) Header() error { return nil }

// Prints: every column with a key, whether set or not.
func (f *jsonFormatter) Prints(col int) bool { return f.cols[col].Key != "" }

func (f *jsonFormatter) Write(r *Row) error {
	b := append(f.line[:0], `{"time":"`...)
	t := f.clock.Wall(r.KTime).UTC()
	b = f.secs.append(b, t, "2006-01-02T15:04:05")
	b = appendNanos(b, t)
	b = append(b, `Z","ktime_ns":`...)
	b = strconv.AppendUint(b, r.KTime, 10)
	for i := range f.cols {
		c := &f.cols[i]
		if c.Key == "" {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, c.Key...)
		b = append(b, '"', ':')
		v := r.get(i)
		b = appendJSONValue(b, v)
		b = appendJSONBytes(b, v, f.b64[i])
	}
	b = append(b, '}', '\n')
	f.line = b
	_, err := f.w.Write(b)
	return err
}

func appendJSONValue(b []byte, v *value) []byte {
	switch v.kind {
	case kindInt:
		return strconv.AppendInt(b, v.i, 10)
	case kindUint:
		return strconv.AppendUint(b, v.u, 10)
	case kindBool:
		return strconv.AppendBool(b, v.i != 0)
	case kindFloat:
		return strconv.AppendFloat(b, v.f, 'f', -1, 64)
	case kindStr:
		return AppendJSONString(b, v.s)
	case kindRaw:
		return append(b, v.s...)
	case kindList:
		b = append(b, '[')
		for j := range v.items {
			if j > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, v.items[j].B)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

// appendJSONBytes appends field (`,"<key>_b64":`) and the exact bytes of a
// string or list value that is not valid UTF-8, base64-encoded; nothing for
// other values.
func appendJSONBytes(b []byte, v *value, field string) []byte {
	switch v.kind {
	case kindStr:
		if utf8.Valid(v.s) {
			return b
		}
		b = append(b, field...)
		return appendBase64(b, v.s)
	case kindList:
		valid := true
		for j := range v.items {
			valid = valid && utf8.Valid(v.items[j].B)
		}
		if valid {
			return b
		}
		b = append(append(b, field...), '[')
		for j := range v.items {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendBase64(b, v.items[j].B)
		}
		return append(b, ']')
	}
	return b
}

func appendBase64(b, s []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, s)
	return append(b, '"')
}
