package ipcount

import (
	"strconv"

	"github.com/ebtools/ebtools/metrics"
)

// exporter turns ipcount's interval reports into counters (--metrics):
// per source for the top --metrics-top sources of each interval, every
// other source in source="other", and the exact totals by family. The
// sources with series are at most --metrics-top: a source new to the top
// takes the place of the one longest out of it, whose series go.
type exporter struct {
	cfg     config
	top     int
	source  [2]*metrics.CounterVec // packets, bytes; by interface, source, proto, dport, verdict
	total   [2]*metrics.CounterVec // packets, bytes; by interface, family, verdict
	series  map[Key]*sourceSeries
	label   []byte
	current uint64 // the interval being added
}

// sourceSeries is one source's counters and the last interval it was in
// the top.
type sourceSeries struct {
	labels [4]string // source, proto, dport
	c      [2][2]metrics.Counter
	last   uint64
}

func newExporter(tm *metrics.Tool, cfg config, top int) *exporter {
	x := &exporter{cfg: cfg, top: top, series: map[Key]*sourceSeries{}}
	x.source[0] = tm.CounterVec("source_packets_total", "Packets from the top sources (--metrics-top), the rest under source=\"other\", by verdict: pass, or drop (would drop, with --dry-run).",
		"interface", "source", "proto", "dport", "verdict")
	x.source[1] = tm.CounterVec("source_bytes_total", "Bytes from the top sources (--metrics-top), the rest under source=\"other\", by verdict: pass, or drop (would drop, with --dry-run).",
		"interface", "source", "proto", "dport", "verdict")
	x.total[0] = tm.CounterVec("packets_total", "Every packet that arrived, exactly, by family (ipv4, ipv6, non_ip, malformed) and verdict (pass, drop).",
		"interface", "family", "verdict")
	x.total[1] = tm.CounterVec("bytes_total", "Every byte that arrived, exactly, by family (ipv4, ipv6, non_ip, malformed) and verdict (pass, drop).",
		"interface", "family", "verdict")
	for _, f := range []string{"ipv4", "ipv6", "non_ip", "malformed"} {
		for _, v := range []string{"pass", "drop"} {
			x.total[0].WithLabelValues(cfg.iface, f, v)
			x.total[1].WithLabelValues(cfg.iface, f, v)
		}
	}
	return x
}

// add counts one interval's report; chained to the Tool's OnReport.
func (x *exporter) add(iv *Report) {
	x.current++
	other := iv.Other
	for i := range iv.Top {
		row := &iv.Top[i]
		if i >= x.top {
			other.add(row.Counts)
			continue
		}
		s := x.series[row.Key]
		if s == nil {
			s = x.place(row.Key)
		}
		s.last = x.current
		addCounts(s.c, row.Counts)
	}
	addCounts(x.sourceCounters([4]string{metrics.Other}), other)
	for _, f := range []struct {
		name string
		c    Counts
	}{{"ipv4", iv.IPv4}, {"ipv6", iv.IPv6}, {"non_ip", iv.NonIP}, {"malformed", iv.Malformed}} {
		addCounts(x.totalCounters(f.name), f.c)
	}
}

// place makes the series of key k, dropping those of the source longest
// out of the top if there are --metrics-top already.
func (x *exporter) place(k Key) *sourceSeries {
	if len(x.series) >= x.top {
		var oldest *sourceSeries
		var oldKey Key
		for key, s := range x.series {
			if oldest == nil || s.last < oldest.last {
				oldest, oldKey = s, key
			}
		}
		delete(x.series, oldKey)
		for _, v := range x.source {
			v.DeletePartialMatch(map[string]string{"interface": x.cfg.iface, "source": oldest.labels[0],
				"proto": oldest.labels[1], "dport": oldest.labels[2]})
		}
	}
	x.label = appendKey(x.label[:0], &k, x.cfg)
	var l [4]string
	l[0] = string(x.label)
	if x.cfg.by >= byProto {
		l[1] = protoName(k.Proto)
	}
	if x.cfg.by >= byDport && (k.Proto == 6 || k.Proto == 17) {
		l[2] = strconv.Itoa(int(k.Dport))
	}
	s := &sourceSeries{labels: l, c: x.sourceCounters(l)}
	x.series[k] = s
	return s
}

func (x *exporter) sourceCounters(l [4]string) (c [2][2]metrics.Counter) {
	for i, v := range x.source {
		c[i][0] = v.WithLabelValues(x.cfg.iface, l[0], l[1], l[2], "pass")
		c[i][1] = v.WithLabelValues(x.cfg.iface, l[0], l[1], l[2], "drop")
	}
	return c
}

func (x *exporter) totalCounters(family string) (c [2][2]metrics.Counter) {
	for i, v := range x.total {
		c[i][0] = v.WithLabelValues(x.cfg.iface, family, "pass")
		c[i][1] = v.WithLabelValues(x.cfg.iface, family, "drop")
	}
	return c
}

// addCounts adds c to counters [packets, bytes][pass, drop].
func addCounts(to [2][2]metrics.Counter, c Counts) {
	to[0][0].Add(float64(c.Packets))
	to[0][1].Add(float64(c.DroppedPackets()))
	to[1][0].Add(float64(c.Bytes))
	to[1][1].Add(float64(c.DroppedBytes()))
}
