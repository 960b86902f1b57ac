package ipcount

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

// Columns of a report row. JSON has every key on every line (null where it
// does not apply); text shows PROTO and DPORT with --by, DROP, DROP_B and
// REASON when something may be dropped.
const (
	colInterface = iota
	colInterval
	colSeconds
	colCumulative
	colFinal
	colDryRun
	colRow
	colLabel
	colSource
	colProto
	colDport
	colPackets
	colBytes
	colDropped
	colDroppedBytes
	colReason
	colPPS
	colBPS
	colSources
	colEvictions
	colEvicted
	colUntracked
	numCols
)

func columns(cfg config, format output.Format) []output.Column {
	cols := []output.Column{
		colInterface:    {Key: "interface"},
		colInterval:     {Key: "interval"},
		colSeconds:      {Key: "seconds"},
		colCumulative:   {Key: "cumulative"},
		colFinal:        {Key: "final"},
		colDryRun:       {Key: "dry_run"},
		colRow:          {Key: "row"},
		colLabel:        {Header: "SOURCE", Width: 39},
		colSource:       {Key: "source"},
		colProto:        {Header: "PROTO", Key: "proto", Width: 6},
		colDport:        {Header: "DPORT", Key: "dport", Width: 5, Align: output.Right},
		colPackets:      {Header: "PACKETS", Key: "packets", Width: 12, Align: output.Right},
		colBytes:        {Header: "BYTES", Key: "bytes", Width: 14, Align: output.Right},
		colDropped:      {Header: "DROP", Key: "dropped_packets", Width: 12, Align: output.Right},
		colDroppedBytes: {Header: "DROP_B", Key: "dropped_bytes", Width: 14, Align: output.Right},
		colReason:       {Header: "REASON", Key: "drop_reason", Width: 9},
		colPPS:          {Header: "PKT/S", Key: "pps", Width: 12, Align: output.Right, Prec: 1},
		colBPS:          {Header: "BIT/S", Key: "bps", Width: 14, Align: output.Right, Prec: 0},
		colSources:      {Key: "sources"},
		colEvictions:    {Key: "evictions"},
		colEvicted:      {Key: "evicted_packets"},
		colUntracked:    {Key: "untracked_packets"},
	}
	if format == output.Text {
		if cfg.by < byProto {
			cols[colProto].Header = ""
		}
		if cfg.by < byDport {
			cols[colDport].Header = ""
		}
		if !cfg.dropping() {
			cols[colDropped].Header, cols[colDroppedBytes].Header, cols[colReason].Header = "", "", ""
		}
	}
	return cols
}

// reporter turns each interval into a report and prints it.
type reporter struct {
	cfg         config
	format      output.Format
	out         *output.Writer
	p           tools.Printer
	tab         *table
	hist        *history
	seq         uint64
	start, last time.Time
	rows        []Row
	line, label []byte
	onReport    func(interval, sinceStart *Report)
	mono        func() uint64 // CLOCK_MONOTONIC ns, for the rows' time
}

func newReporter(cfg config, env *tools.Env, tab *table) *reporter {
	now := time.Now()
	return &reporter{
		cfg: cfg, format: env.Format, out: env.Out, tab: tab,
		p:     tools.NewPrinter(env.Out, env.Format, columns(cfg, env.Format), output.Options{}),
		hist:  newHistory(max(1<<16, 4*cfg.top)),
		start: now, last: now, mono: monotonicNs,
	}
}

// report ends an interval and prints it, or with final the summary since
// start.
func (r *reporter) report(final bool) error {
	iv, err := r.tab.next()
	if err != nil {
		return err
	}
	now := time.Now()
	r.seq++
	r.hist.add(iv)
	cur := Report{Time: now, Seconds: now.Sub(r.last).Seconds(), Interval: r.seq,
		IPv4: iv.ipv4, IPv6: iv.ipv6, NonIP: iv.nonIP, Malformed: iv.malformed,
		Evicted: iv.evicted, Untracked: iv.untracked, Evictions: iv.evictions}
	r.rows = cur.build(iv.keys, r.cfg.top, r.cfg.byBytes, r.rows)
	h := r.hist
	all := Report{Time: now, Seconds: now.Sub(r.start).Seconds(), Interval: r.seq, SinceStart: true, Final: final,
		IPv4: h.ipv4, IPv6: h.ipv6, NonIP: h.nonIP, Malformed: h.malformed,
		Evicted: h.evicted, Untracked: h.untracked, Evictions: h.evictions}
	all.build(h.keys, r.cfg.top, r.cfg.byBytes, nil)
	r.last = now
	if r.onReport != nil {
		r.onReport(&cur, &all)
	}
	show := &cur
	if final || r.cfg.cumulative {
		show = &all
	}
	if err := r.print(show); err != nil {
		return err
	}
	return r.out.Flush()
}

func monotonicNs() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

func (r *reporter) print(rep *Report) error {
	if r.format == output.Text {
		what := "interval"
		switch {
		case rep.Final:
			what = "summary since start"
		case rep.SinceStart:
			what = "since start"
		}
		b := rep.Time.AppendFormat(r.line[:0], "15:04:05 ")
		b = output.AppendText(b, []byte(r.cfg.iface), false)
		b = fmt.Appendf(b, ": %s %.2fs, %d sources, evicted %d (%d pkts), untracked %d pkts\n",
			what, rep.Seconds, rep.Sources, rep.Evictions, rep.Evicted.Packets, rep.Untracked.Packets)
		r.line = b
		if _, err := r.out.Write(b); err != nil {
			return err
		}
		if err := r.p.Header(); err != nil {
			return err
		}
	}
	ktime := r.mono()
	for _, row := range rep.Top {
		if err := r.row(rep, ktime, "source", &row.Key, row.Counts); err != nil {
			return err
		}
	}
	for _, agg := range []struct {
		name string
		c    Counts
	}{{"other", rep.Other}, {"ipv4", rep.IPv4}, {"ipv6", rep.IPv6},
		{"non_ip", rep.NonIP}, {"malformed", rep.Malformed}, {"total", rep.Total}} {
		if err := r.row(rep, ktime, agg.name, nil, agg.c); err != nil {
			return err
		}
	}
	if r.format == output.Text {
		_, err := r.out.Write([]byte("\n"))
		return err
	}
	return nil
}

// Text labels of the aggregate rows.
var labels = map[string]string{
	"other": "OTHER", "ipv4": "IPV4", "ipv6": "IPV6", "non_ip": "NON-IP", "malformed": "MALFORMED", "total": "TOTAL",
}

func (r *reporter) row(rep *Report, ktime uint64, kind string, k *Key, c Counts) error {
	w := r.p.Row
	w.Reset(ktime)
	w.Str(colInterface, []byte(r.cfg.iface), false)
	w.Uint(colInterval, rep.Interval)
	w.Float(colSeconds, float64(int64(rep.Seconds*1000))/1000)
	w.Bool(colCumulative, rep.SinceStart)
	w.Bool(colFinal, rep.Final)
	w.Bool(colDryRun, r.cfg.dryRun)
	w.Text(colRow, kind)
	if k != nil {
		r.label = appendKey(r.label[:0], k, r.cfg)
		w.Str(colLabel, r.label, false)
		w.Str(colSource, r.label, false)
		if r.cfg.by >= byProto {
			w.Text(colProto, protoName(k.Proto))
		}
		if r.cfg.by >= byDport && (k.Proto == 6 || k.Proto == 17) {
			w.Uint(colDport, uint64(k.Dport))
		}
	} else {
		w.Text(colLabel, labels[kind])
	}
	w.Uint(colPackets, c.Packets)
	w.Uint(colBytes, c.Bytes)
	w.Uint(colDropped, c.DroppedPackets())
	w.Uint(colDroppedBytes, c.DroppedBytes())
	switch {
	case c.ListPackets > 0 && c.RatePackets > 0:
		w.Text(colReason, "list+rate")
	case c.ListPackets > 0:
		w.Text(colReason, "list")
	case c.RatePackets > 0:
		w.Text(colReason, "rate")
	case r.format == output.Text:
		w.Text(colReason, "-")
	}
	if rep.Seconds > 0 {
		w.Float(colPPS, float64(int64(float64(c.AllPackets())/rep.Seconds*1000))/1000)
		w.Float(colBPS, float64(int64(8*float64(c.AllBytes())/rep.Seconds)))
	}
	if kind == "total" {
		w.Uint(colSources, uint64(rep.Sources))
		w.Uint(colEvictions, rep.Evictions)
		w.Uint(colEvicted, rep.Evicted.Packets)
		w.Uint(colUntracked, rep.Untracked.Packets)
	}
	return r.p.Print()
}

// appendKey appends a key as an address, or a prefix when cut to one.
func appendKey(b []byte, k *Key, cfg config) []byte {
	a := netip.AddrFrom16(k.Addr)
	bits := cfg.prefix6
	if !k.V6 {
		a, bits = a.Unmap(), cfg.prefix4
	}
	if bits == a.BitLen() {
		return a.AppendTo(b)
	}
	return netip.PrefixFrom(a, bits).AppendTo(b)
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	case 47:
		return "gre"
	case 50:
		return "esp"
	}
	return protoNumbers[p]
}

// protoNumbers names other protocols by number, made once.
var protoNumbers = func() (n [256]string) {
	for i := range n {
		n[i] = strconv.Itoa(i)
	}
	return n
}()
