package metrics

import (
	"bytes"
	"fmt"
)

// Text returns the metrics of reg whose names start with prefix in the
// text exposition format, sorted by name and labels: what a scrape shows,
// for tests and golden files.
func Text(reg *Registry, prefix string) ([]byte, error) {
	var b bytes.Buffer
	if err := reg.WriteText(&b, prefix); err != nil {
		return nil, fmt.Errorf("write metrics: %w", err)
	}
	return b.Bytes(), nil
}
