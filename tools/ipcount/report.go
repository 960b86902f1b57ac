package ipcount

import (
	"net/netip"
	"slices"
	"time"
)

// Row is one key's counts in a report.
type Row struct {
	Key Key
	Counts
}

// Report is what ipcount knows about a span of time: one interval, or
// everything since start. Every count in it covers that span.
type Report struct {
	// Time is when the span ended; Seconds how long it was.
	Time    time.Time
	Seconds float64
	// Interval numbers the interval (1, 2, ...); in a report since start,
	// the last one it includes.
	Interval uint64
	// SinceStart marks a report since start (the final summary, or
	// --cumulative).
	SinceStart bool
	// Final marks the summary printed on exit.
	Final bool
	// Top are the largest rows, at most -n, by packets (or bytes).
	Top []Row
	// Other is every IPv4 and IPv6 packet not in Top: exact.
	Other Counts
	// IPv4, IPv6, NonIP and Malformed are exact totals (NonIP and
	// Malformed frames are never dropped); Total is their sum.
	IPv4, IPv6, NonIP, Malformed, Total Counts
	// Sources is how many keys the table held (per interval; since start,
	// how many ipcount remembers).
	Sources int
	// Evicted counts the packets of keys that lost their slot to another
	// key during the span, and Evictions how often that happened;
	// Untracked the packets of keys that found no slot. These are in
	// Other, and in the totals.
	Evicted, Untracked Counts
	Evictions          uint64
}

// rank orders rows by packets or bytes (passed and dropped), then by key.
func rank(rows []Row, byBytes bool) {
	slices.SortFunc(rows, func(a, b Row) int {
		ka, kb := a.AllPackets(), b.AllPackets()
		if byBytes {
			ka, kb = a.AllBytes(), b.AllBytes()
		}
		if ka != kb {
			if ka > kb {
				return -1
			}
			return 1
		}
		return compareKeys(a.Key, b.Key)
	})
}

func compareKeys(a, b Key) int {
	if c := netip.AddrFrom16(a.Addr).Compare(netip.AddrFrom16(b.Addr)); c != 0 {
		return c
	}
	if a.V6 != b.V6 {
		if a.V6 {
			return 1
		}
		return -1
	}
	if a.Proto != b.Proto {
		return int(a.Proto) - int(b.Proto)
	}
	return int(a.Dport) - int(b.Dport)
}

// build fills r's rows and totals from keys and the exact totals.
func (r *Report) build(keys map[Key]Counts, top int, byBytes bool, buf []Row) []Row {
	rows := buf[:0]
	for k, c := range keys {
		if c.AllPackets() > 0 {
			rows = append(rows, Row{k, c})
		}
	}
	rank(rows, byBytes)
	r.Sources = len(rows)
	if len(rows) > top {
		rows = rows[:top]
	}
	r.Top = rows
	r.Other = r.IPv4
	r.Other.add(r.IPv6)
	for _, row := range rows {
		r.Other = r.Other.sub(row.Counts)
	}
	r.Total = r.IPv4
	r.Total.add(r.IPv6)
	r.Total.add(r.NonIP)
	r.Total.add(r.Malformed)
	return rows
}

// history keeps counts since start for a bounded number of keys (the
// summary and --cumulative): when it holds more than max, the smaller half
// is forgotten, their packets staying in the totals and Other.
type history struct {
	keys                         map[Key]Counts
	max                          int
	ipv4, ipv6, nonIP, malformed Counts
	evicted, untracked           Counts
	evictions                    uint64
}

func newHistory(max int) *history { return &history{keys: map[Key]Counts{}, max: max} }

func (h *history) add(iv *interval) {
	for k, c := range iv.keys {
		cur := h.keys[k]
		cur.add(c)
		h.keys[k] = cur
	}
	h.ipv4.add(iv.ipv4)
	h.ipv6.add(iv.ipv6)
	h.nonIP.add(iv.nonIP)
	h.malformed.add(iv.malformed)
	h.evicted.add(iv.evicted)
	h.untracked.add(iv.untracked)
	h.evictions += iv.evictions
	if len(h.keys) <= h.max {
		return
	}
	rows := make([]Row, 0, len(h.keys))
	for k, c := range h.keys {
		rows = append(rows, Row{k, c})
	}
	rank(rows, false)
	for _, r := range rows[h.max/2:] {
		delete(h.keys, r.Key)
	}
}
