// Package toolstest holds the tests every tool runs the same way, given
// the tool's name, its event handler and its sample events.
package toolstest

import (
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

// Handler makes a tool's event handler writing format (to io.Discard).
type Handler func(tb testing.TB, format output.Format) *tools.EventHandler

func metricsHandler(tb testing.TB, tool string, newHandler Handler, format output.Format) (*tools.EventHandler, *metrics.Registry) {
	tb.Helper()
	reg := metrics.NewRegistry()
	h := newHandler(tb, format)
	h.SetMetrics(metrics.NewTool(reg, tool, metrics.Limits{}))
	return h, reg
}

// Metrics checks the tool's own metrics after its sample events, as a
// scrape shows them (testdata/metrics.golden in the tool's folder), and
// that counting them allocates nothing once their series exist, in
// every output format.
func Metrics(t *testing.T, tool string, newHandler Handler, events [][]byte) {
	t.Helper()
	for _, format := range []output.Format{output.Text, output.JSON, output.None} {
		t.Run(formatName[format], func(t *testing.T) {
			h, reg := metricsHandler(t, tool, newHandler, format)
			for _, raw := range events {
				h.Event(raw)
			}
			if format == output.None {
				text, err := metrics.Text(reg, "ebtools_"+tool)
				if err != nil {
					t.Fatal(err)
				}
				testutil.Golden(t, "testdata/metrics.golden", text)
			}
			if n := testing.AllocsPerRun(500, func() {
				for _, raw := range events {
					h.Event(raw)
				}
			}); n != 0 {
				t.Errorf("%v allocations", n)
			}
		})
	}
}

var formatName = map[output.Format]string{output.Text: "text", output.JSON: "json", output.None: "none"}

// BenchmarkMetrics is the tool's BenchmarkEvent with --metrics on: one
// event (raw), decoded, printed and counted, in text and with -o none.
func BenchmarkMetrics(b *testing.B, tool string, newHandler Handler, raw []byte) {
	for _, format := range []output.Format{output.Text, output.None} {
		b.Run(formatName[format], func(b *testing.B) {
			h, _ := metricsHandler(b, tool, newHandler, format)
			h.Event(raw)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Event(raw)
			}
		})
	}
}
