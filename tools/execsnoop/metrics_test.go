package execsnoop

import (
	"io"
	"testing"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/toolstest"
)

func metricsHandler(tb testing.TB, format output.Format) *tools.EventHandler {
	return handler(tb, format, io.Discard)
}

// TestMetrics: execsnoop's own metrics after the sample events
// (testdata/metrics.golden), counted without allocating.
func TestMetrics(t *testing.T) { toolstest.Metrics(t, "execsnoop", metricsHandler, sampleEvents()) }

// BenchmarkEventMetrics is BenchmarkEvent with --metrics on.
func BenchmarkEventMetrics(b *testing.B) {
	toolstest.BenchmarkMetrics(b, "execsnoop", metricsHandler, sampleEvents()[0])
}
