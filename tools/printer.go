package tools

import "github.com/ebtools/ebtools/output"

// Printer is the output half every event tool shares: a formatter, its
// writer and one reusable row. Tools embed it in their handler.
type Printer struct {
	Formatter output.Formatter
	Out       *output.Writer
	Row       *output.Row
}

// NewPrinter returns a Printer of cols in format, writing to out.
func NewPrinter(out *output.Writer, format output.Format, cols []output.Column, opts output.Options) Printer {
	f := output.New(out, format, cols, opts)
	return Printer{Formatter: f, Out: out, Row: output.NewRowFor(len(cols), f)}
}

// Header writes the column titles.
func (p *Printer) Header() error { return p.Formatter.Header() }

// Print writes Row.
func (p *Printer) Print() error { return p.Formatter.Write(p.Row) }

// Flush implements runtime.Handler.
func (p *Printer) Flush() error { return p.Out.Flush() }

// Unwritten implements runtime.Unwritten.
func (p *Printer) Unwritten() uint64 { return p.Out.Unwritten() }
