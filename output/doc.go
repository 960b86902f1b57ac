// Package output renders tool events as BCC-style text columns or JSON lines.
//
// A tool describes its columns once ([Column]), fills a reusable [Row] per
// event and hands it to a [Formatter] made by [New]:
//
//	f := output.New(w, output.Text, cols, output.Options{})
//	f.Header()
//	row.Reset(ktime)
//	row.Int(colPID, 42)
//	f.Write(row)
//
// Strings are escaped so that one event is always one line, whatever bytes a
// hostile process puts into its name, arguments or paths. Nothing on the event
// path allocates once the buffers have grown.
package output
