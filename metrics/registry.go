package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families and writes them in Prometheus' text
// exposition format (version 0.0.4), sorted by name and label values.
//
// ebtools writes the format itself rather than link client_golang: its
// registry, protobuf and their package initialisation cost every tool
// resident memory whether --metrics is set or not (2.6 MB in a program
// linking only them; with net/http, see http.go, `ebtools --help` went
// from 11.5 MB to 7.1 MB), against 20 MB a tool may use in all. The format is small and is
// checked by promtool, by client_golang's parser and linter and by a real
// Prometheus server in the tests.
type Registry struct {
	mu   sync.Mutex
	fams map[string]*family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{fams: map[string]*family{}} }

type kind uint8

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

func (k kind) String() string {
	return [...]string{"counter", "gauge", "histogram"}[k]
}

// family is one metric name: its series, or a function that reads them
// at each scrape.
type family struct {
	name, help string
	kind       kind
	labels     []string  // label names, as declared
	byName     []int     // indexes into labels, in the order of their names
	buckets    []float64 // upper bounds, histograms only

	mu     sync.Mutex
	series map[string]*series // by labelKey of the values

	// read, if set, emits the family's series at each scrape instead.
	read func(emit func(v float64, values ...string))
}

// series is one combination of label values: a counter or gauge's value
// (float64 bits), or a histogram's buckets.
type series struct {
	values []string
	bits   atomic.Uint64

	bounds []float64  // a histogram's upper bounds, its family's
	mu     sync.Mutex // guards counts and sum, read together at a scrape
	counts []uint64   // per bucket, not cumulative; the last is +Inf
	sum    float64
}

// register adds a family; a name registered twice or an invalid name
// panics: programming errors, as the names are constants.
func (r *Registry) register(f *family) *family {
	if !validName(f.name) {
		panic("metrics: invalid metric name " + strconv.Quote(f.name))
	}
	for i, l := range f.labels {
		if !validName(l) || strings.Contains(l, ":") || strings.HasPrefix(l, "__") || l == "le" {
			panic("metrics: invalid label name " + strconv.Quote(l) + " of " + f.name)
		}
		if slices.Contains(f.labels[:i], l) {
			panic("metrics: label " + l + " twice in " + f.name)
		}
	}
	f.byName = make([]int, len(f.labels))
	for i := range f.byName {
		f.byName[i] = i
	}
	sort.SliceStable(f.byName, func(a, b int) bool { return f.labels[f.byName[a]] < f.labels[f.byName[b]] })
	f.series = map[string]*series{}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.fams[f.name]; dup {
		panic("metrics: " + f.name + " registered twice")
	}
	r.fams[f.name] = f
	return f
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// CounterVec is a counter family with labels.
type CounterVec struct{ f *family }

// HistogramVec is a histogram family with labels.
type HistogramVec struct{ f *family }

// Counter is one series of a counter family.
type Counter struct{ s *series }

// Histogram is one series of a histogram family.
type Histogram struct{ s *series }

// NewCounterVec registers a counter family named name with these labels.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{r.register(&family{name: name, help: help, kind: kindCounter, labels: labels})}
}

// NewHistogramVec registers a histogram family with these upper bounds
// (finite, strictly increasing; +Inf is implied) and labels.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	for i, b := range buckets {
		if math.IsInf(b, 0) || math.IsNaN(b) || i > 0 && b <= buckets[i-1] {
			panic("metrics: " + name + ": bucket bounds must be finite and strictly increasing")
		}
	}
	if len(buckets) == 0 {
		panic("metrics: " + name + ": no bucket bounds")
	}
	return &HistogramVec{r.register(&family{name: name, help: help, kind: kindHistogram, labels: labels, buckets: buckets})}
}

// NewRead registers a counter (gauge if !counter) family whose series
// read calls emit for at each scrape, with one value per label.
func (r *Registry) NewRead(name, help string, counter bool, read func(emit func(v float64, values ...string)), labels ...string) {
	k := kindGauge
	if counter {
		k = kindCounter
	}
	r.register(&family{name: name, help: help, kind: k, labels: labels, read: read})
}

// WithLabelValues returns the series of these label values (as many as
// the family's labels), made at the first call. Values that are not
// UTF-8 have their bad bytes replaced by U+FFFD.
func (v *CounterVec) WithLabelValues(values ...string) Counter {
	return Counter{v.f.get(values)}
}

// WithLabelValues returns the series of these label values.
func (v *HistogramVec) WithLabelValues(values ...string) Histogram {
	return Histogram{v.f.get(values)}
}

// DeletePartialMatch removes the series whose labels have the values in
// match and returns how many.
func (v *CounterVec) DeletePartialMatch(match map[string]string) int { return v.f.deleteMatch(match) }

// DeletePartialMatch removes the series whose labels have the values in
// match and returns how many.
func (v *HistogramVec) DeletePartialMatch(match map[string]string) int { return v.f.deleteMatch(match) }

// Add adds v to the counter; a negative v panics, as a counter only
// goes up.
func (c Counter) Add(v float64) {
	if v < 0 {
		panic("metrics: counter decreased")
	}
	for {
		old := c.s.bits.Load()
		if c.s.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Value returns the counter's value.
func (c Counter) Value() float64 { return math.Float64frombits(c.s.bits.Load()) }

// Observe counts v in the first bucket whose bound is at least v.
func (h Histogram) Observe(v float64) {
	s := h.s
	i := sort.SearchFloat64s(s.bounds, v)
	s.mu.Lock()
	s.counts[i]++
	s.sum += v
	s.mu.Unlock()
}

func labelKey(values []string) string { return strings.Join(values, "\xff") }

// exported returns values as they are exported, bad bytes replaced by
// U+FFFD; a count other than the family's labels panics.
func (f *family) exported(values []string) []string {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s: %d label values for %d labels", f.name, len(values), len(f.labels)))
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.ToValidUTF8(v, "\uFFFD")
	}
	return out
}

func (f *family) get(values []string) *series {
	// Keyed by the values as exported: two spellings of one value (bad
	// bytes become U+FFFD) share the series, and as valid UTF-8 never
	// holds the byte 0xff, the key tells any two lists of values apart.
	clean := f.exported(values)
	key := labelKey(clean)
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.series[key]; ok {
		return s
	}
	s := &series{values: make([]string, len(clean)), bounds: f.buckets}
	for i, v := range clean {
		s.values[i] = strings.Clone(v)
	}
	if f.kind == kindHistogram {
		s.counts = make([]uint64, len(f.buckets)+1)
	}
	f.series[key] = s
	return s
}

func (f *family) deleteMatch(match map[string]string) int {
	want := make(map[int]string, len(match))
	for name, v := range match {
		i := slices.Index(f.labels, name)
		if i < 0 {
			return 0 // no series has a label the family lacks
		}
		want[i] = strings.ToValidUTF8(v, "\uFFFD")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for key, s := range f.series {
		if s.matches(want) {
			delete(f.series, key)
			n++
		}
	}
	return n
}

func (s *series) matches(want map[int]string) bool {
	for i, v := range want {
		if s.values[i] != v {
			return false
		}
	}
	return true
}

// WriteText writes the families whose names start with prefix ("" for
// all) in the text exposition format.
func (r *Registry) WriteText(w io.Writer, prefix string) error {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.fams))
	for name, f := range r.fams {
		if strings.HasPrefix(name, prefix) {
			fams = append(fams, f)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		f.write(bw)
	}
	return bw.Flush()
}

// sample is one series as read at a scrape.
type sample struct {
	values []string
	v      float64
	counts []uint64
}

func (f *family) samples() []sample {
	var out []sample
	if f.read != nil {
		f.read(func(v float64, values ...string) {
			out = append(out, sample{values: f.exported(values), v: v})
		})
	} else {
		f.mu.Lock()
		for _, s := range f.series {
			smp := sample{values: s.values, v: math.Float64frombits(s.bits.Load())}
			if f.kind == kindHistogram {
				s.mu.Lock()
				smp.counts, smp.v = slices.Clone(s.counts), s.sum
				s.mu.Unlock()
			}
			out = append(out, smp)
		}
		f.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b sample) int {
		for _, i := range f.byName {
			if c := strings.Compare(a.values[i], b.values[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

func (f *family) write(w *bufio.Writer) {
	w.WriteString("# HELP ")
	w.WriteString(f.name)
	w.WriteByte(' ')
	escape(w, f.help, false)
	w.WriteString("\n# TYPE ")
	w.WriteString(f.name)
	w.WriteByte(' ')
	w.WriteString(f.kind.String())
	w.WriteByte('\n')
	for _, s := range f.samples() {
		if f.kind != kindHistogram {
			f.line(w, "", s.values, "", s.v)
			continue
		}
		var cum uint64
		for i, b := range f.buckets {
			cum += s.counts[i]
			f.line(w, "_bucket", s.values, formatFloat(b), float64(cum))
		}
		cum += s.counts[len(f.buckets)]
		f.line(w, "_bucket", s.values, "+Inf", float64(cum))
		f.line(w, "_sum", s.values, "", s.v)
		f.line(w, "_count", s.values, "", float64(cum))
	}
}

// line writes name+suffix{labels in the order of their names, le} v.
func (f *family) line(w *bufio.Writer, suffix string, values []string, le string, v float64) {
	w.WriteString(f.name)
	w.WriteString(suffix)
	if len(values) > 0 || le != "" {
		sep := byte('{')
		for _, i := range f.byName {
			w.WriteByte(sep)
			sep = ','
			w.WriteString(f.labels[i])
			w.WriteString(`="`)
			escape(w, values[i], true)
			w.WriteByte('"')
		}
		if le != "" {
			w.WriteByte(sep)
			w.WriteString(`le="`)
			w.WriteString(le)
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

// escape writes s with backslash and newline escaped, and double quotes
// too in a label value.
func escape(w *bufio.Writer, s string, quote bool) {
	for _, r := range s {
		switch {
		case r == '\\':
			w.WriteString(`\\`)
		case r == '\n':
			w.WriteString(`\n`)
		case r == '"' && quote:
			w.WriteString(`\"`)
		default:
			w.WriteRune(r)
		}
	}
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ExponentialBuckets returns count upper bounds, the first start and each
// factor times the one before.
func ExponentialBuckets(start, factor float64, count int) []float64 {
	b := make([]float64, count)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}
