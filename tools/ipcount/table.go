package ipcount

import (
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/cilium/ebpf"
)

// Indexes of the totals map (enum ipcount_total in bpf/ipcount.h; a test
// compares them with the header).
const (
	totalV4Pass = iota
	totalV4DropList
	totalV4DropRate
	totalV6Pass
	totalV6DropList
	totalV6DropRate
	totalNonIP
	totalMalformed
	totalEvicted
	totalEvictions
	totalUntracked
	numTotals
)

// keyV6 is IPCOUNT_KEY_V6, the flag of keys from IPv6 packets.
const keyV6 = 1

// grace is how long after an interval ends its half of the maps is left
// alone before it is read: programs that started before the switch
// finish within microseconds (XDP runs with preemption off).
const grace = 5 * time.Millisecond

// Key is what a row counts: a source address or prefix, and with --by its
// protocol and destination port.
type Key struct {
	// Addr is the address, IPv4 as v4-mapped IPv6, cut to the prefix.
	Addr [16]byte
	// Proto is the IP protocol (--by), else 0.
	Proto uint8
	// V6 is set for IPv6 packets.
	V6 bool
	// Dport is the TCP/UDP destination port (--by dport), else 0.
	Dport uint16
}

// Counts are packets and bytes by fate. Dropped counts are what --dry-run
// would have dropped, with it.
type Counts struct {
	Packets, Bytes         uint64 // passed
	ListPackets, ListBytes uint64 // dropped by the drop list
	RatePackets, RateBytes uint64 // dropped by --rate-limit
}

// AllPackets is passed and dropped packets.
func (c Counts) AllPackets() uint64 { return c.Packets + c.ListPackets + c.RatePackets }

// AllBytes is passed and dropped bytes.
func (c Counts) AllBytes() uint64 { return c.Bytes + c.ListBytes + c.RateBytes }

// DroppedPackets is packets dropped for either reason.
func (c Counts) DroppedPackets() uint64 { return c.ListPackets + c.RatePackets }

// DroppedBytes is bytes dropped for either reason.
func (c Counts) DroppedBytes() uint64 { return c.ListBytes + c.RateBytes }

func (c *Counts) add(o Counts) {
	c.Packets += o.Packets
	c.Bytes += o.Bytes
	c.ListPackets += o.ListPackets
	c.ListBytes += o.ListBytes
	c.RatePackets += o.RatePackets
	c.RateBytes += o.RateBytes
}

// sub returns c - o (o a part of c).
func (c Counts) sub(o Counts) Counts {
	return Counts{c.Packets - o.Packets, c.Bytes - o.Bytes, c.ListPackets - o.ListPackets,
		c.ListBytes - o.ListBytes, c.RatePackets - o.RatePackets, c.RateBytes - o.RateBytes}
}

// interval is what the maps say about one ended interval.
type interval struct {
	keys       map[Key]Counts
	ipv4, ipv6 Counts
	nonIP      Counts // Packets and Bytes only
	malformed  Counts
	evicted    Counts // packets and bytes moved out of slots
	evictions  uint64
	untracked  Counts
}

// table reads and steers the program's maps (bpf/ipcount.bpf.c).
type table struct {
	slots, totals *ebpf.Map
	tries         [2]*ebpf.Map
	epochVar      *ebpf.Variable
	genVar        *ebpf.Variable
	cacheVar      *ebpf.Variable
	slotBits      uint32
	prefix4       int
	prefix6       int
	epoch, gen    uint32
	prev          [2][numTotals]ipcountCounts // last reading of each half
	slotBuf       []ipcountSlot
	keyBuf        []uint32
	countBuf      []ipcountCounts
}

func newTable(coll *ebpf.Collection, slotBits uint32, prefix4, prefix6 int) *table {
	return &table{
		slots: coll.Maps[ipcountMapSlots], totals: coll.Maps[ipcountMapTotals],
		tries:    [2]*ebpf.Map{coll.Maps[ipcountMapDropA], coll.Maps[ipcountMapDropB]},
		epochVar: coll.Variables[ipcountVarEpoch], genVar: coll.Variables[ipcountVarListGen],
		cacheVar: coll.Variables[ipcountVarListCache],
		slotBits: slotBits, prefix4: prefix4, prefix6: prefix6,
		epoch: 1, gen: 1,
	}
}

// setList puts l into the trie not in force, then switches to it: packets
// see the old list or the new one, never a mix.
func (t *table) setList(l *dropList) error {
	next := t.gen + 1
	trie := t.tries[next&1]
	var k ipcountLpmKey
	var stale []ipcountLpmKey
	for it := trie.Iterate(); it.Next(&k, new(uint32)); {
		stale = append(stale, k)
	}
	for _, k := range stale {
		if err := trie.Delete(&k); err != nil {
			return fmt.Errorf("clear drop list: %w", err)
		}
	}
	for _, p := range l.prefixes {
		k := lpmKey(p)
		if err := trie.Put(&k, uint32(1)); err != nil {
			return fmt.Errorf("load drop list entry %s: %w", p, err)
		}
	}
	// A verdict kept in a slot names the list it came from; keys that
	// hold sources with different verdicts keep none (0).
	u := l.uniform(t.prefix4, t.prefix6)
	cache := [2]uint32{}
	for fam := range cache {
		if u>>fam&1 != 0 {
			cache[fam] = next
		}
	}
	if err := t.genVar.Set(next); err != nil {
		return fmt.Errorf("switch drop list: %w", err)
	}
	if err := t.cacheVar.Set(cache); err != nil {
		return fmt.Errorf("switch drop list: %w", err)
	}
	t.gen = next
	return nil
}

// next ends the current interval and returns its counts.
func (t *table) next() (*interval, error) {
	ended := t.epoch
	if err := t.epochVar.Set(ended + 1); err != nil {
		return nil, fmt.Errorf("start interval: %w", err)
	}
	t.epoch = ended + 1
	time.Sleep(grace)
	iv := &interval{keys: map[Key]Counts{}}
	if err := t.readTotals(ended&1, iv); err != nil {
		return nil, err
	}
	if err := t.readSlots(ended, iv); err != nil {
		return nil, err
	}
	return iv, nil
}

func (t *table) readTotals(half uint32, iv *interval) error {
	var cur [numTotals]ipcountCounts
	for i := range cur {
		if err := t.totals.Lookup(half*numTotals+uint32(i), &t.countBuf); err != nil {
			return fmt.Errorf("read totals: %w", err)
		}
		for _, c := range t.countBuf {
			cur[i].Packets += c.Packets
			cur[i].Bytes += c.Bytes
		}
	}
	d := func(i int) Counts {
		return Counts{Packets: cur[i].Packets - t.prev[half][i].Packets, Bytes: cur[i].Bytes - t.prev[half][i].Bytes}
	}
	byFate := func(pass, list, rate int) Counts {
		return Counts{d(pass).Packets, d(pass).Bytes, d(list).Packets, d(list).Bytes, d(rate).Packets, d(rate).Bytes}
	}
	iv.ipv4 = byFate(totalV4Pass, totalV4DropList, totalV4DropRate)
	iv.ipv6 = byFate(totalV6Pass, totalV6DropList, totalV6DropRate)
	iv.nonIP, iv.malformed = d(totalNonIP), d(totalMalformed)
	iv.evicted, iv.untracked = d(totalEvicted), d(totalUntracked)
	iv.evictions = d(totalEvictions).Packets
	t.prev[half] = cur
	return nil
}

// readSlots adds every slot of the interval ended (all CPUs) to iv's keys
// and its totals.
func (t *table) readSlots(ended uint32, iv *interval) error {
	n := int(t.slots.MaxEntries())
	cpus := 0
	var cursor ebpf.MapBatchCursor
	const chunk = 1024
	if cap(t.keyBuf) < chunk {
		t.keyBuf = make([]uint32, chunk)
	}
	for read := 0; read < n; {
		if t.slotBuf == nil {
			possible, err := ebpf.PossibleCPU()
			if err != nil {
				return fmt.Errorf("read slots: %w", err)
			}
			t.slotBuf = make([]ipcountSlot, chunk*possible)
		}
		cpus = len(t.slotBuf) / chunk
		got, err := t.slots.BatchLookup(&cursor, t.keyBuf, t.slotBuf, nil)
		for i := 0; i < got; i++ {
			for c := 0; c < cpus; c++ {
				s := &t.slotBuf[i*cpus+c]
				if s.Key.Epoch != ended {
					continue
				}
				k := Key{Addr: s.Key.Addr, Proto: s.Key.Proto, V6: s.Key.Flags&keyV6 != 0, Dport: bits.ReverseBytes16(s.Key.Dport)} // network order
				v := Counts{s.C[0].Packets, s.C[0].Bytes, s.C[1].Packets, s.C[1].Bytes, s.C[2].Packets, s.C[2].Bytes}
				cur := iv.keys[k]
				cur.add(v)
				iv.keys[k] = cur
				if k.V6 {
					iv.ipv6.add(v)
				} else {
					iv.ipv4.add(v)
				}
			}
		}
		read += got
		if err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				break
			}
			return fmt.Errorf("read slots: %w", err)
		}
	}
	return nil
}
