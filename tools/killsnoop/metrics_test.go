package killsnoop

import (
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

func metricsHandler(tb testing.TB, format output.Format) (*tools.EventHandler, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	h := handler(tb, format, io.Discard)
	h.SetMetrics(metrics.NewTool(reg, "killsnoop", metrics.Limits{}))
	return h, reg
}

// TestMetrics: the sample events in killsnoop's own metrics, as a scrape
// shows them (testdata/metrics.golden), and counting them allocates
// nothing once their series exist, in every output format.
func TestMetrics(t *testing.T) {
	events := sampleEvents
	for _, format := range []output.Format{output.Text, output.JSON, output.None} {
		h, reg := metricsHandler(t, format)
		for _, raw := range events {
			h.Event(raw)
		}
		if format == output.None {
			text, err := metrics.Text(reg, "ebtools_killsnoop")
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
			t.Errorf("format %d: %v allocations", format, n)
		}
	}
}

// BenchmarkEventMetrics is BenchmarkEvent with --metrics on.
func BenchmarkEventMetrics(b *testing.B) {
	for _, format := range []output.Format{output.Text, output.None} {
		b.Run(map[output.Format]string{output.Text: "text", output.None: "none"}[format], func(b *testing.B) {
			h, _ := metricsHandler(b, format)
			raw := sampleEvents[0]
			h.Event(raw)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Event(raw)
			}
		})
	}
}
