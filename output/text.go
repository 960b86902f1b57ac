package output

import (
	"strconv"
	"unicode/utf8"
)

type textFormatter struct {
	w    *Writer
	cols []Column
	opts Options
	last int // index of the last text column, left unpadded
	line []byte
	secs secondCache
}

func newText(w *Writer, cols []Column, opts Options) *textFormatter {
	f := &textFormatter{w: w, cols: cols, opts: opts, last: -1}
	for i := range cols {
		if cols[i].Header != "" {
			f.last = i
		}
	}
	return f
}

const (
	clockHeader    = "TIME"
	relativeHeader = "TIME(s)"
	timeWidth      = 8
)

func (f *textFormatter) Header() error {
	b := f.line[:0]
	switch f.opts.Time {
	case ClockTime:
		b = pad(b, clockHeader, timeWidth)
	case RelativeTime:
		b = pad(b, relativeHeader, timeWidth)
	}
	for i := range f.cols {
		c := &f.cols[i]
		if c.Header == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		start := len(b)
		b = append(b, c.Header...)
		if i != f.last {
			b = padTo(b, start, c.Width, c.Align)
		}
	}
	b = append(b, '\n')
	f.line = b
	_, err := f.w.Write(b)
	return err
}

func (f *textFormatter) Write(r *Row) error {
	b := f.line[:0]
	switch f.opts.Time {
	case ClockTime:
		b = f.secs.append(b, f.opts.Clock.Wall(r.KTime), "15:04:05")
	case RelativeTime:
		start := len(b)
		b = strconv.AppendFloat(b, f.opts.Clock.Since(r.KTime).Seconds(), 'f', 3, 64)
		b = padTo(b, start, timeWidth, Left)
	}
	for i := range f.cols {
		c := &f.cols[i]
		if c.Header == "" {
			continue
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		start := len(b)
		b = appendTextValue(b, r.get(i), c.Quote)
		if i != f.last {
			b = padTo(b, start, c.Width, c.Align)
		}
	}
	b = append(b, '\n')
	f.line = b
	_, err := f.w.Write(b)
	return err
}

// truncMark ends a value that a size limit cut.
const truncMark = "..."

func appendTextValue(b []byte, v *value, quote bool) []byte {
	switch v.kind {
	case kindInt:
		return strconv.AppendInt(b, v.i, 10)
	case kindUint:
		return strconv.AppendUint(b, v.u, 10)
	case kindBool:
		return strconv.AppendBool(b, v.i != 0)
	case kindStr:
		b = append(b, v.pre...)
		b = appendTextString(b, v.s, v.cut, quote)
		return append(b, v.suf...)
	case kindList:
		for j := range v.items {
			if j > 0 {
				b = append(b, ' ')
			}
			b = appendTextString(b, v.items[j].B, v.items[j].Cut, quote)
		}
		if v.more {
			if len(v.items) > 0 {
				b = append(b, ' ')
			}
			b = append(b, truncMark...)
		}
		return b
	}
	return append(b, '-')
}

func appendTextString(b, s []byte, cut, quote bool) []byte {
	if quote {
		b = append(b, '"')
	}
	b = AppendText(b, s, quote)
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

// pad appends s left-aligned in width runes.
func pad(b []byte, s string, width int) []byte {
	start := len(b)
	return padTo(append(b, s...), start, width, Left)
}
