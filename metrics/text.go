package metrics

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Text returns the metrics of g whose names start with prefix in the
// text exposition format, sorted by name and labels: what a scrape shows,
// for tests and golden files.
func Text(g prometheus.Gatherer, prefix string) ([]byte, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), prefix) {
			if err := enc.Encode(mf); err != nil {
				return nil, fmt.Errorf("encode metrics: %w", err)
			}
		}
	}
	return b.Bytes(), nil
}
