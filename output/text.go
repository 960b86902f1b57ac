package output

import (
	"bytes"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf8"
)

type textFormatter struct {
	w     *Writer
	cols  []Column
	opts  Options
	order []int // indexes of the text columns, in order
	line  []byte
	secs  secondCache
	cell  []byte // scratch for escapeEdges
}

func newText(w *Writer, cols []Column, opts Options) *textFormatter {
	f := &textFormatter{w: w, cols: cols, opts: opts, order: opts.Order}
	if f.order == nil {
		for i := range cols {
			if cols[i].Header != "" {
				f.order = append(f.order, i)
			}
		}
	}
	return f
}

// Prints: the columns in the text order.
func (f *textFormatter) Prints(col int) bool { return slices.Contains(f.order, col) }

// isLast reports whether the j-th text column is the last, left unpadded.
func (f *textFormatter) isLast(j int) bool { return j == len(f.order)-1 }

const (
	clockHeader    = "TIME"
	relativeHeader = "TIME(s)"
	timeWidth      = 8
)

func (f *textFormatter) Header() error {
	b := f.line[:0]
	switch f.opts.Time {
	case ClockTime:
		b = f.endCell(append(b, clockHeader...), 0, timeWidth, Left)
	case RelativeTime:
		b = f.endCell(append(b, relativeHeader...), 0, timeWidth, Left)
	}
	for j, i := range f.order {
		c := &f.cols[i]
		b = f.sep(b)
		start := len(b)
		b = append(b, c.Header...)
		if !f.isLast(j) || c.Align == Right {
			b = f.endCell(b, start, c.Width, c.Align)
		}
	}
	return f.writeLine(b)
}

func (f *textFormatter) Write(r *Row) error {
	b := f.line[:0]
	switch f.opts.Time {
	case ClockTime:
		b = f.secs.append(b, f.opts.Clock.Wall(r.KTime), "15:04:05")
	case RelativeTime:
		b = strconv.AppendFloat(b, f.opts.Clock.Since(r.KTime).Seconds(), 'f', 3, 64)
		b = f.endCell(b, 0, timeWidth, Left)
	}
	for j, i := range f.order {
		c := &f.cols[i]
		b = f.sep(b)
		start := len(b)
		v := r.get(i)
		// Every column but the last is one whitespace-separated field:
		// its spaces are escaped and an empty value shows as "-".
		last := f.isLast(j)
		b = appendTextValue(b, v, c, !last && !f.opts.CSV)
		b = placeholder(b, start, v)
		if last && !f.opts.CSV {
			b = f.escapeEdges(b, start)
		}
		if f.opts.CSV {
			b = escapeCommas(b, start)
		}
		if !f.isLast(j) || c.Align == Right {
			b = f.endCell(b, start, c.Width, c.Align)
		}
	}
	return f.writeLine(b)
}

// sep appends the column separator unless b is at the start of the line.
func (f *textFormatter) sep(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	if f.opts.CSV {
		return append(b, ',')
	}
	return append(b, ' ')
}

// endCell pads the cell b[start:] to width, except in CSV.
func (f *textFormatter) endCell(b []byte, start, width int, a Align) []byte {
	if f.opts.CSV {
		return b
	}
	return padTo(b, start, width, a)
}

func (f *textFormatter) writeLine(b []byte) error {
	b = append(b, '\n')
	f.line = b
	_, err := f.w.Write(b)
	return err
}

// escapeCommas escapes the commas of b[start:] as \x2c, so CSV fields stay
// fields.
func escapeCommas(b []byte, start int) []byte { return escapeByte(b, start, ',') }

// escapeByte escapes every c in b[start:] as \xNN, in place.
func escapeByte(b []byte, start int, c byte) []byte {
	n := bytes.Count(b[start:], []byte{c})
	if n == 0 {
		return b
	}
	b = append(b, make([]byte, 3*n)...)
	w := len(b)
	for r := len(b) - 3*n - 1; r >= start; r-- {
		if b[r] == c {
			w -= 4
			b[w], b[w+1], b[w+2], b[w+3] = '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf]
			continue
		}
		w--
		b[w] = b[r]
	}
	return b
}

// truncMark ends a value that a size limit cut.
const truncMark = "..."

// escapeEdges escapes the white space that starts or ends the cell
// b[start:], the last of the row, which would otherwise be invisible or
// taken for the column separator.
func (f *textFormatter) escapeEdges(b []byte, start int) []byte {
	cell := b[start:]
	lead := 0
	for lead < len(cell) {
		r, n := utf8.DecodeRune(cell[lead:])
		if !unicode.IsSpace(r) {
			break
		}
		lead += n
	}
	trail := len(cell)
	for trail > lead {
		r, n := utf8.DecodeLastRune(cell[:trail])
		if !unicode.IsSpace(r) {
			break
		}
		trail -= n
	}
	if lead == 0 && trail == len(cell) {
		return b
	}
	f.cell = append(f.cell[:0], cell...)
	b = appendField(b[:start], f.cell[:lead])
	b = append(b, f.cell[lead:trail]...)
	return appendField(b, f.cell[trail:])
}

// appendField appends already escaped text with its white space escaped.
func appendField(b, s []byte) []byte { return appendText(b, s, false, true) }

// noValue stands for a value that is unset or empty, so that a column
// never vanishes from a row.
const noValue = "-"

// placeholder writes noValue into the empty cell b[start:], and a value
// that is exactly "-" as \x2d, so that "-" always means no value.
func placeholder(b []byte, start int, v *value) []byte {
	switch {
	case len(b) == start:
		return append(b, noValue...)
	case v.kind != kindNone && string(b[start:]) == noValue:
		return appendHexByte(b[:start], '-')
	}
	return b
}

func appendTextValue(b []byte, v *value, c *Column, field bool) []byte {
	quote, prec := c.Quote, c.Prec
	switch v.kind {
	case kindInt:
		return strconv.AppendInt(b, v.i, 10)
	case kindUint:
		return strconv.AppendUint(b, v.u, 10)
	case kindBool:
		return strconv.AppendBool(b, v.i != 0)
	case kindFloat:
		return strconv.AppendFloat(b, v.f, 'f', prec, 64)
	case kindStr:
		b = appendMark(b, v.pre, field)
		b = appendTextString(b, v.s, v.cut, quote, field)
		return appendMark(b, v.suf, field)
	case kindList:
		sep := c.Sep
		if sep == "" {
			sep = " "
		}
		for j := range v.items {
			if j > 0 {
				b = appendMark(b, sep, field)
			}
			start := len(b)
			b = appendTextString(b, v.items[j].B, v.items[j].Cut, quote, field)
			if sep != " " {
				b = escapeByte(b, start, sep[0])
			}
		}
		if v.more {
			if len(v.items) > 0 {
				b = appendMark(b, sep, field)
			}
			b = append(b, truncMark...)
		}
		return b
	}
	return b
}

// appendMark appends a text-only marker, its spaces escaped in a field.
func appendMark(b []byte, mark string, field bool) []byte {
	if !field {
		return append(b, mark...)
	}
	for i := 0; i < len(mark); i++ {
		if mark[i] == ' ' {
			b = appendHexByte(b, ' ')
		} else {
			b = append(b, mark[i])
		}
	}
	return b
}

func appendTextString(b, s []byte, cut, quote, field bool) []byte {
	if quote {
		b = append(b, '"')
	}
	b = appendText(b, s, quote, field)
	if cut {
		b = append(b, truncMark...)
	}
	if quote {
		b = append(b, '"')
	}
	return b
}

// padTo pads b[start:] with spaces to width runes, on the right (Left) or by
// shifting it right (Right).
func padTo(b []byte, start, width int, a Align) []byte {
	n := width - utf8.RuneCount(b[start:])
	if n <= 0 {
		return b
	}
	for i := 0; i < n; i++ {
		b = append(b, ' ')
	}
	if a == Right {
		copy(b[start+n:], b[start:len(b)-n])
		for i := start; i < start+n; i++ {
			b[i] = ' '
		}
	}
	return b
}
