package tcplife

import (
	"io"
	"testing"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/toolstest"
)

func metricsHandler(tb testing.TB, format output.Format) *tools.EventHandler {
	return handler(&config{}, format, io.Discard)
}

// TestMetrics: tcplife's own metrics after the sample events
// (testdata/metrics.golden), counted without allocating.
func TestMetrics(t *testing.T) { toolstest.Metrics(t, "tcplife", metricsHandler, sampleEvents) }

// BenchmarkEventMetrics is BenchmarkEvent with --metrics on.
func BenchmarkEventMetrics(b *testing.B) {
	toolstest.BenchmarkMetrics(b, "tcplife", metricsHandler, sampleEvents[0])
}
