package metrics

import (
	"fmt"
	"strings"
)

// Metric declares one of a tool's own metrics, next to its columns:
// exported as ebtools_<tool>_<Name>, a counter or, with Buckets, a
// histogram, labeled with Labels and then unit and container_id (the
// systemd unit and the container of the event's process, "" if none).
type Metric struct {
	Name, Help string
	// Labels are the metric's own labels, at most MaxLabels; each
	// combination of their values is a series, up to Limits.Values.
	Labels []string
	// Buckets, if set, make the metric a histogram with these upper bounds.
	Buckets []float64
}

// MaxLabels is the most labels a Metric has of its own.
const MaxLabels = 3

// Label names every Metric has after its own.
const (
	LabelUnit      = "unit"
	LabelContainer = "container_id"
)

// Meter feeds a tool's own metrics, one event at a time, without
// allocating once an event's series exist: each series (a metric, its
// label values, the event's unit and container) is resolved once and
// kept. It is not safe for concurrent use; the scrapes that read the
// series are.
type Meter struct {
	limits Limits
	vecs   map[*Metric]vec
	// tuples counts each metric's combinations of own label values.
	tuples map[*Metric]map[[MaxLabels]string]struct{}
	series map[seriesKey]meterSeries

	groups   map[[2]string]*group
	other    *group
	cur      *group // nil until SetGroup
	curUnit  string // the strings cur was chosen for, as given
	curCont  string
	curKtime uint64
}

type vec struct {
	counter   *CounterVec
	histogram *HistogramVec
}

// group is one (unit, container_id) pair's place among Limits.Groups.
type group struct {
	unit, container string
	last            uint64 // ktime of its last event, ns
}

type seriesKey struct {
	m *Metric
	g *group
	l [MaxLabels]string
}

// meterSeries is a series resolved for a key: its counter or histogram.
type meterSeries struct {
	c Counter
	h Histogram
}

// Meter registers ms and returns their meter. It panics on a metric with
// more than MaxLabels labels or a name registered twice: programming
// errors.
func (t *Tool) Meter(ms []*Metric) *Meter {
	m := &Meter{
		limits: t.limits,
		vecs:   map[*Metric]vec{},
		tuples: map[*Metric]map[[MaxLabels]string]struct{}{},
		series: map[seriesKey]meterSeries{},
		groups: map[[2]string]*group{},
		other:  &group{unit: Other, container: Other},
	}
	for _, d := range ms {
		if len(d.Labels) > MaxLabels {
			panic(fmt.Sprintf("metrics: %s has %d labels, more than %d", d.Name, len(d.Labels), MaxLabels))
		}
		labels := append(append([]string{}, d.Labels...), LabelUnit, LabelContainer)
		var v vec
		if d.Buckets != nil {
			v.histogram = t.reg.NewHistogramVec(t.FullName(d.Name), d.Help, d.Buckets, labels...)
		} else {
			v.counter = t.reg.NewCounterVec(t.FullName(d.Name), d.Help, labels...)
		}
		m.vecs[d] = v
		m.tuples[d] = map[[MaxLabels]string]struct{}{}
	}
	return m
}

// SetGroup sets the unit and container of the events that follow, and
// ktime (CLOCK_MONOTONIC ns) of the next one. Within Limits.Groups pairs
// each has its own series; past it, a pair idle for IdleGroup gives up
// its place (and its series), else the events count as "other".
func (m *Meter) SetGroup(unit, container string, ktime uint64) {
	m.curKtime = ktime
	if m.cur != nil && unit == m.curUnit && container == m.curCont {
		m.cur.last = ktime
		return
	}
	m.curUnit, m.curCont = unit, container
	g := m.groups[[2]string{unit, container}]
	if g == nil {
		g = m.place(unit, container, ktime)
	}
	g.last = ktime
	m.cur = g
}

// place finds a place for a new pair, or returns the "other" group.
func (m *Meter) place(unit, container string, ktime uint64) *group {
	if len(m.groups) >= m.limits.Groups {
		var idle *group
		for _, g := range m.groups {
			if idle == nil || g.last < idle.last {
				idle = g
			}
		}
		if idle == nil || ktime < idle.last+uint64(IdleGroup) {
			return m.other
		}
		m.drop(idle)
	}
	g := &group{unit: strings.Clone(unit), container: strings.Clone(container)}
	m.groups[[2]string{g.unit, g.container}] = g
	return g
}

// drop removes g and its series.
func (m *Meter) drop(g *group) {
	delete(m.groups, [2]string{g.unit, g.container})
	for k := range m.series {
		if k.g == g {
			delete(m.series, k)
		}
	}
	match := map[string]string{LabelUnit: g.unit, LabelContainer: g.container}
	for _, v := range m.vecs {
		if v.counter != nil {
			v.counter.DeletePartialMatch(match)
		} else {
			v.histogram.DeletePartialMatch(match)
		}
	}
}

// Add adds v to counter d for the current group, with d's label values.
func (m *Meter) Add(d *Metric, v float64, values ...string) {
	if s := m.get(d, values); s.c.s != nil {
		s.c.Add(v)
	}
}

// Observe records v in histogram d for the current group, with d's
// label values.
func (m *Meter) Observe(d *Metric, v float64, values ...string) {
	if s := m.get(d, values); s.h.s != nil {
		s.h.Observe(v)
	}
}

func (m *Meter) get(d *Metric, values []string) meterSeries {
	if m.cur == nil {
		m.SetGroup("", "", m.curKtime)
	}
	k := seriesKey{m: d, g: m.cur}
	copy(k.l[:], values)
	if s, ok := m.series[k]; ok {
		return s
	}
	return m.resolve(k)
}

// resolve makes the series of k, within Limits.Values combinations of
// label values per metric.
func (m *Meter) resolve(k seriesKey) meterSeries {
	v, ok := m.vecs[k.m]
	if !ok {
		panic("metrics: " + k.m.Name + " was not declared to the meter")
	}
	n := len(k.m.Labels)
	for i := n; i < MaxLabels; i++ {
		k.l[i] = ""
	}
	tuples := m.tuples[k.m]
	if _, seen := tuples[k.l]; !seen {
		if len(tuples) >= m.limits.Values {
			for i := 0; i < n; i++ {
				k.l[i] = Other
			}
		} else {
			for i := 0; i < n; i++ {
				k.l[i] = strings.Clone(k.l[i])
			}
			tuples[k.l] = struct{}{}
		}
	}
	if s, ok := m.series[k]; ok {
		return s
	}
	values := append(append(make([]string, 0, n+2), k.l[:n]...), k.g.unit, k.g.container)
	var s meterSeries
	if v.counter != nil {
		s.c = v.counter.WithLabelValues(values...)
	} else {
		s.h = v.histogram.WithLabelValues(values...)
	}
	m.series[k] = s
	return s
}
