package output

import "unsafe"

// Align places a value inside its text column.
type Align uint8

// Alignments of a text column.
const (
	Left Align = iota
	Right
)

// Column is one field of a tool's events: a text column, a JSON key, or both.
type Column struct {
	// Header is the text column's title; "" makes the field JSON-only.
	Header string
	// Key is the field's snake_case JSON key; "" makes the column text-only.
	Key string
	// Width is the text column's minimum width; longer values are not cut.
	Width int
	// Align is the text alignment within Width.
	Align Align
	// Quote puts text strings (and each list item) in double quotes.
	Quote bool
	// Prec is the number of decimals of a Float value in text.
	Prec int
	// Sep joins the items of a list in text; "" is a space. Inside an item,
	// the separator's first byte is escaped, so no item can fake a second.
	Sep string
}

type kind uint8

const (
	kindNone kind = iota
	kindInt
	kindUint
	kindStr
	kindBool
	kindList
	kindFloat
	kindRaw
)

// Item is one string of a list value.
type Item struct {
	B   []byte
	Cut bool
}

type value struct {
	gen      uint32 // the value is set if gen is its row's gen
	kind     kind
	i        int64
	u        uint64
	f        float64
	s        []byte
	cut      bool
	items    []Item
	more     bool
	pre, suf string // text-only markers around a string
}

// Row holds one event's values by column index. Reset it per event; it keeps
// its memory, and its strings alias the caller's bytes until the next Reset.
type Row struct {
	// KTime is the event's CLOCK_MONOTONIC time in nanoseconds (bpf_ktime_get_ns).
	KTime  uint64
	vals   []value
	gen    uint32 // bumped by Reset, so clearing costs nothing per column
	wanted []bool // nil: every column
}

// NewRow returns a Row for n columns.
func NewRow(n int) *Row { return &Row{vals: make([]value, n)} }

// NewRowFor returns a Row for n columns that f prints: Wants reports
// those f prints.
func NewRowFor(n int, f Formatter) *Row {
	r := NewRow(n)
	r.wanted = make([]bool, n)
	for i := range r.wanted {
		r.wanted[i] = f.Prints(i)
	}
	return r
}

// Wants reports whether column col is printed. A value that costs to make
// (formatted text) need not be made when it is not; setting it anyway is
// harmless.
func (r *Row) Wants(col int) bool { return r.wanted == nil || r.wanted[col] }

// Reset clears all values and sets the event time.
func (r *Row) Reset(ktime uint64) {
	r.KTime = ktime
	r.gen++
	if r.gen == 0 { // wrapped: values set 2^32 rows ago would look current
		for i := range r.vals {
			r.vals[i].gen = 0
		}
		r.gen = 1
	}
}

// at returns column col's value, cleared if it was set for an earlier row.
func (r *Row) at(col int) *value {
	v := &r.vals[col]
	if v.gen != r.gen {
		*v = value{gen: r.gen, items: v.items[:0]}
	}
	return v
}

// get returns column col's value for reading: kindNone if unset.
func (r *Row) get(col int) *value {
	v := &r.vals[col]
	if v.gen != r.gen {
		return &unset
	}
	return v
}

var unset value

// Int sets column col to a signed number.
func (r *Row) Int(col int, n int64) { v := r.at(col); v.kind, v.i = kindInt, n }

// Uint sets column col to an unsigned number.
func (r *Row) Uint(col int, n uint64) { v := r.at(col); v.kind, v.u = kindUint, n }

// Float sets column col to a number printed with the column's Prec decimals.
func (r *Row) Float(col int, f float64) { v := r.at(col); v.kind, v.f = kindFloat, f }

// Bool sets column col to a boolean.
func (r *Row) Bool(col int, b bool) {
	v := r.at(col)
	v.kind, v.i = kindBool, 0
	if b {
		v.i = 1
	}
}

// Str sets column col to a string; cut marks a value shortened by a size limit.
func (r *Row) Str(col int, s []byte, cut bool) {
	v := r.at(col)
	v.kind, v.s, v.cut = kindStr, s, cut
}

// Text sets column col to a string constant (such as an errno name).
func (r *Row) Text(col int, s string) {
	v := r.at(col)
	v.kind, v.s, v.cut = kindStr, unsafe.Slice(unsafe.StringData(s), len(s)), false
}

// Mark adds text-only markers before and after the string in column col,
// for what JSON says in fields of its own (e.g. "(unresolved)").
func (r *Row) Mark(col int, prefix, suffix string) {
	v := r.at(col)
	v.pre, v.suf = prefix, suffix
}

// RawJSON sets column col to b, a JSON value the caller built (such as an
// array of objects), written as is in JSON and not shown in text.
func (r *Row) RawJSON(col int, b []byte) {
	v := r.at(col)
	v.kind, v.s = kindRaw, b
}

// Item appends one string to the list in column col.
func (r *Row) Item(col int, s []byte, cut bool) {
	v := r.at(col)
	v.kind = kindList
	v.items = append(v.items, Item{B: s, Cut: cut})
}

// List makes column col a list, empty unless items are added: JSON [] for
// a list known to have no items, where an unset column is null.
func (r *Row) List(col int) {
	v := r.at(col)
	v.kind = kindList
}

// More marks the list in column col as missing items that were not captured.
func (r *Row) More(col int) {
	v := r.at(col)
	v.kind, v.more = kindList, true
}
