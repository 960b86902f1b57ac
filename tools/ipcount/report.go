package ipcount

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

// Indexes of the totals map (enum ipcount_total in bpf/ipcount.h).
const (
	totalNonIP = iota
	totalMalformed
	totalNewSources
	totalInsertFailed
	numTotals
)

type counts struct{ packets, bytes uint64 }

// Column indexes of a text row.
const (
	colSource = iota
	colPackets
	colBytes
	colPPS
	colBPS
)

var columns = []output.Column{
	colSource:  {Header: "SOURCE", Width: 39},
	colPackets: {Header: "PACKETS", Width: 12, Align: output.Right},
	colBytes:   {Header: "BYTES", Width: 14, Align: output.Right},
	colPPS:     {Header: "PKT/S", Width: 12, Align: output.Right, Prec: 1},
	colBPS:     {Header: "BIT/S", Width: 14, Align: output.Right, Prec: 0},
}

// reporter reads the maps every interval and prints the top sources.
type reporter struct {
	cfg              config
	format           output.Format
	out              *output.Writer
	text             tools.Printer
	fast, sources    *ebpf.Map
	totals           *ebpf.Map
	start, last      time.Time
	prev             map[[16]byte]counts
	rows             []row
	line, addr, name []byte
}

type row struct {
	src   [16]byte
	delta counts
}

func newReporter(cfg config, env *tools.Env, fast, sources, totals *ebpf.Map) *reporter {
	now := time.Now()
	return &reporter{
		cfg: cfg, format: env.Format, out: env.Out,
		text: tools.NewPrinter(env.Out, output.Text, columns, output.Options{}),
		fast: fast, sources: sources, totals: totals,
		start: now, last: now,
		prev: map[[16]byte]counts{},
	}
}

// snapshot sums every source's counters over the CPUs and both tables.
func (r *reporter) snapshot() (map[[16]byte]counts, error) {
	return snapshot(r.fast, r.sources, len(r.prev))
}

// snapshot reads the fast table and the sources map (bpf/ipcount.bpf.c).
func snapshot(fast, sources *ebpf.Map, sizeHint int) (map[[16]byte]counts, error) {
	cur := make(map[[16]byte]counts, sizeHint)
	var slots []ipcountSlot
	for i := uint32(0); i < fast.MaxEntries(); i++ {
		if err := fast.Lookup(i, &slots); err != nil {
			return nil, fmt.Errorf("read fast table: %w", err)
		}
		for _, s := range slots { // one per CPU, each CPU's own address
			if s.Packets > 0 {
				c := cur[s.Src.Addr]
				cur[s.Src.Addr] = counts{c.packets + s.Packets, c.bytes + s.Bytes}
			}
		}
	}
	var key ipcountSource
	var perCPU []ipcountCounts
	it := sources.Iterate()
	for it.Next(&key, &perCPU) {
		c := cur[key.Addr]
		for _, v := range perCPU {
			c.packets += v.Packets
			c.bytes += v.Bytes
		}
		cur[key.Addr] = c
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read sources: %w", err)
	}
	return cur, nil
}

// lruEntries counts the entries of the sources map, for evictions.
func lruEntries(sources *ebpf.Map) uint64 {
	var n uint64
	var key ipcountSource
	var perCPU []ipcountCounts
	for it := sources.Iterate(); it.Next(&key, &perCPU); {
		n++
	}
	return n
}

func (r *reporter) readTotals() ([numTotals]counts, error) {
	var t [numTotals]counts
	var perCPU []ipcountCounts
	for i := range t {
		if err := r.totals.Lookup(uint32(i), &perCPU); err != nil {
			return t, fmt.Errorf("read totals: %w", err)
		}
		for _, v := range perCPU {
			t[i].packets += v.Packets
			t[i].bytes += v.Bytes
		}
	}
	return t, nil
}

// report prints one interval, or with final the summary since start.
func (r *reporter) report(final bool) error {
	now := time.Now()
	cur, err := r.snapshot()
	if err != nil {
		return err
	}
	totals, err := r.readTotals()
	if err != nil {
		return err
	}
	sinceStart := final || r.cfg.cumulative
	elapsed := now.Sub(r.last)
	if sinceStart {
		elapsed = now.Sub(r.start)
	}
	r.rows = r.rows[:0]
	var sum counts
	for src, c := range cur {
		d := c
		// An entry smaller than before was evicted and came back: all new.
		if p, ok := r.prev[src]; ok && !sinceStart && c.packets >= p.packets {
			d = counts{c.packets - p.packets, c.bytes - p.bytes}
		}
		if d.packets == 0 {
			continue
		}
		sum.packets += d.packets
		sum.bytes += d.bytes
		r.rows = append(r.rows, row{src, d})
	}
	sort.Slice(r.rows, func(i, j int) bool {
		a, b := r.rows[i].delta, r.rows[j].delta
		ka, kb := a.packets, b.packets
		if r.cfg.byBytes {
			ka, kb = a.bytes, b.bytes
		}
		if ka != kb {
			return ka > kb
		}
		return string(r.rows[i].src[:]) < string(r.rows[j].src[:])
	})
	top := r.rows
	if len(top) > r.cfg.top {
		top = top[:r.cfg.top]
	}
	var evicted uint64
	if n := lruEntries(r.sources); totals[totalNewSources].packets > n {
		evicted = totals[totalNewSources].packets - n
	}
	st := status{now: now, elapsed: elapsed, final: final, sources: len(cur), evicted: evicted, totals: totals, sum: sum}
	if r.format == output.JSON {
		err = r.printJSON(st, top)
	} else {
		err = r.printText(st, top)
	}
	if err == nil {
		err = r.out.Flush()
	}
	r.prev, r.last = cur, now
	return err
}

type status struct {
	now     time.Time
	elapsed time.Duration
	final   bool
	sources int
	evicted uint64
	totals  [numTotals]counts
	sum     counts
}

func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// appendSource appends src as an address, IPv4 unmapped from ::ffff:0:0/96.
func appendSource(b []byte, src [16]byte) []byte {
	return netip.AddrFrom16(src).Unmap().AppendTo(b)
}

func (r *reporter) printText(st status, top []row) error {
	what := "interval"
	switch {
	case st.final:
		what = "summary since start"
	case r.cfg.cumulative:
		what = "since start"
	}
	b := st.now.AppendFormat(r.line[:0], "15:04:05")
	b = fmt.Appendf(b, " %s: %s %.2fs, %d sources, non-IP %d pkts, malformed %d pkts, evicted %d, insert failed %d pkts\n",
		r.cfg.iface, what, st.elapsed.Seconds(), st.sources, st.totals[totalNonIP].packets,
		st.totals[totalMalformed].packets, st.evicted, st.totals[totalInsertFailed].packets)
	r.line = b
	if _, err := r.out.Write(b); err != nil {
		return err
	}
	if err := r.text.Header(); err != nil {
		return err
	}
	for _, row := range top {
		r.addr = appendSource(r.addr[:0], row.src)
		if err := r.textRow(r.addr, row.delta, st.elapsed); err != nil {
			return err
		}
	}
	if err := r.textRow([]byte("TOTAL"), st.sum, st.elapsed); err != nil {
		return err
	}
	_, err := r.out.Write([]byte("\n"))
	return err
}

func (r *reporter) textRow(name []byte, c counts, elapsed time.Duration) error {
	w := r.text.Row
	w.Reset(0)
	w.Str(colSource, name, false)
	w.Uint(colPackets, c.packets)
	w.Uint(colBytes, c.bytes)
	w.Float(colPPS, rate(c.packets, elapsed))
	w.Float(colBPS, 8*rate(c.bytes, elapsed))
	return r.text.Print()
}

// appendCounts appends packets and bytes, and their rates over elapsed
// unless it is 0.
func appendCounts(b []byte, c counts, elapsed time.Duration) []byte {
	b = append(b, `"packets":`...)
	b = strconv.AppendUint(b, c.packets, 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendUint(b, c.bytes, 10)
	if elapsed == 0 {
		return b
	}
	b = append(b, `,"pps":`...)
	b = strconv.AppendFloat(b, rate(c.packets, elapsed), 'f', 3, 64)
	b = append(b, `,"bps":`...)
	b = strconv.AppendFloat(b, 8*rate(c.bytes, elapsed), 'f', 3, 64)
	return b
}

func (r *reporter) printJSON(st status, top []row) error {
	b := append(r.line[:0], `{"time":"`...)
	b = st.now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z07:00")
	b = append(b, `","interface":`...)
	b = output.AppendJSONString(b, []byte(r.cfg.iface))
	b = append(b, `,"final":`...)
	b = strconv.AppendBool(b, st.final)
	b = append(b, `,"cumulative":`...)
	b = strconv.AppendBool(b, st.final || r.cfg.cumulative)
	b = append(b, `,"seconds":`...)
	b = strconv.AppendFloat(b, st.elapsed.Seconds(), 'f', 3, 64)
	b = append(b, `,"sources":`...)
	b = strconv.AppendInt(b, int64(st.sources), 10)
	b = append(b, `,"evicted":`...)
	b = strconv.AppendUint(b, st.evicted, 10)
	b = append(b, `,"insert_failed_packets":`...)
	b = strconv.AppendUint(b, st.totals[totalInsertFailed].packets, 10)
	// Frames that are not from a source are counted since start.
	b = append(b, `,"non_ip":{`...)
	b = appendCounts(b, st.totals[totalNonIP], 0)
	b = append(b, `},"malformed":{`...)
	b = appendCounts(b, st.totals[totalMalformed], 0)
	b = append(b, `},"total":{`...)
	b = appendCounts(b, st.sum, st.elapsed)
	b = append(b, `},"top":[`...)
	for i, row := range top {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"source":"`...)
		b = appendSource(b, row.src)
		b = append(b, `",`...)
		b = appendCounts(b, row.delta, st.elapsed)
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	r.line = b
	_, err := r.out.Write(b)
	return err
}
