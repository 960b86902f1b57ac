package ipcount

import (
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/cilium/ebpf"
)

// Indexes of the totals map: enum ipcount_total of bpf/ipcount.h, as
// bpf2go generates it.
const (
	totalV4Pass     = int(ipcountIpcountTotalIPCOUNT_V4PASS)
	totalV4DropList = int(ipcountIpcountTotalIPCOUNT_V4DROP_LIST)
	totalV4DropRate = int(ipcountIpcountTotalIPCOUNT_V4DROP_RATE)
	totalV6Pass     = int(ipcountIpcountTotalIPCOUNT_V6PASS)
	totalV6DropList = int(ipcountIpcountTotalIPCOUNT_V6DROP_LIST)
	totalV6DropRate = int(ipcountIpcountTotalIPCOUNT_V6DROP_RATE)
	totalNonIP      = int(ipcountIpcountTotalIPCOUNT_NON_IP)
	totalMalformed  = int(ipcountIpcountTotalIPCOUNT_MALFORMED)
	totalEvicted    = int(ipcountIpcountTotalIPCOUNT_EVICTED)
	totalEvictions  = int(ipcountIpcountTotalIPCOUNT_EVICTIONS)
	totalUntracked  = int(ipcountIpcountTotalIPCOUNT_UNTRACKED)
	numTotals       = int(ipcountIpcountTotalIPCOUNT_NR_TOTALS)
)

// keyV6 is IPCOUNT_KEY_V6, the flag of keys from IPv6 packets (a slot's
// other flags say how the program judges the key's packets).
const keyV6 = uint8(ipcountIpcountKeyFlagIPCOUNT_KEY_V6)

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
	nowVar        *ebpf.Variable
	genVar        *ebpf.Variable
	uniformVar    *ebpf.Variable
	slotBits      uint32
	prefix4       int
	prefix6       int
	epoch, half   uint32 // the epoch the program counts in, and its half of the table
	gen           uint32
	acc           *interval                   // the epochs ended since the last interval
	prev          [2][numTotals]ipcountCounts // last reading of each half
	slotBuf       []ipcountSlot
	keyBuf        []uint32
	countBuf      []ipcountCounts
}

// nowWord is the program's variable now: the epoch, and the index of the
// first slot of the half of the table it writes.
func nowWord(epoch, base uint32) uint64 { return uint64(base)<<32 | uint64(epoch) }

// newTable takes over the maps of a loaded program, whose now says the
// first epoch (in the first half).
func newTable(coll *ebpf.Collection, slotBits uint32, prefix4, prefix6 int) (*table, error) {
	t := &table{
		slots: coll.Maps[ipcountMapSlots], totals: coll.Maps[ipcountMapTotals],
		tries:  [2]*ebpf.Map{coll.Maps[ipcountMapDropA], coll.Maps[ipcountMapDropB]},
		nowVar: coll.Variables[ipcountVarNow], genVar: coll.Variables[ipcountVarListGen],
		uniformVar: coll.Variables[ipcountVarListUniform],
		slotBits:   slotBits, prefix4: prefix4, prefix6: prefix6,
		gen: 1,
	}
	var now uint64
	if err := t.nowVar.Get(&now); err != nil {
		return nil, fmt.Errorf("read epoch: %w", err)
	}
	t.epoch = uint32(now)
	return t, nil
}

// setList puts l into the trie not in force, then switches to it and
// starts an epoch: packets see the old list or the new one, never a mix,
// and no slot keeps a verdict of the old list.
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
	// A slot keeps its key's verdict only if every source the key
	// holds has the same (list_uniform). Until the new epoch has begun,
	// no slot keeps one: slots claimed while the trie, the epoch and
	// list_uniform change one after the other look each packet up, so
	// none keeps a verdict of the old list, or one the new list does not
	// give every source of its key.
	if err := t.uniformVar.Set(uint32(0)); err != nil {
		return fmt.Errorf("switch drop list: %w", err)
	}
	if err := t.genVar.Set(next); err != nil {
		return fmt.Errorf("switch drop list: %w", err)
	}
	t.gen = next
	if err := t.flip(); err != nil {
		return err
	}
	if err := t.uniformVar.Set(l.uniform(t.prefix4, t.prefix6)); err != nil {
		return fmt.Errorf("switch drop list: %w", err)
	}
	return nil
}

// flip ends the epoch: the program moves to the other half of the table
// (and a new epoch), and what the ended epoch counted is added to t.acc.
// The program reads now as one word, which Variable.Set writes with one
// 8-byte store (Go copies 8 aligned bytes in one move), so a packet never
// sees a new epoch with the old half or the reverse.
func (t *table) flip() error {
	ended, half := t.epoch, t.half
	next := ended + 1
	if next == 0 {
		next = 1 // the epoch of slots never written
	}
	if err := t.nowVar.Set(nowWord(next, (half^1)<<t.slotBits)); err != nil {
		return fmt.Errorf("start epoch: %w", err)
	}
	t.epoch, t.half = next, half^1
	time.Sleep(grace)
	if t.acc == nil {
		t.acc = &interval{keys: map[Key]Counts{}}
	}
	if err := t.readTotals(half, t.acc); err != nil {
		return err
	}
	return t.readSlots(ended, t.acc)
}

// next ends the current interval (and epoch) and returns its counts.
func (t *table) next() (*interval, error) {
	if err := t.flip(); err != nil {
		return nil, err
	}
	iv := t.acc
	t.acc = nil
	return iv, nil
}

func (t *table) readTotals(half uint32, iv *interval) error {
	var cur [numTotals]ipcountCounts
	for i := range cur {
		if err := t.totals.Lookup(half*uint32(numTotals)+uint32(i), &t.countBuf); err != nil {
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
	iv.ipv4.add(byFate(totalV4Pass, totalV4DropList, totalV4DropRate))
	iv.ipv6.add(byFate(totalV6Pass, totalV6DropList, totalV6DropRate))
	iv.nonIP.add(d(totalNonIP))
	iv.malformed.add(d(totalMalformed))
	iv.evicted.add(d(totalEvicted))
	iv.untracked.add(d(totalUntracked))
	iv.evictions += d(totalEvictions).Packets
	t.prev[half] = cur
	return nil
}

// readSlots adds every slot of the epoch ended (all CPUs) to iv's keys and
// its totals.
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
				if !k.V6 {
					k.Addr[10], k.Addr[11] = 0xff, 0xff // the kernel keeps bytes 12 to 15
				}
				pass, list, rate := &s.C[ipcountIpcountVerdictIPCOUNT_PASS], &s.C[ipcountIpcountVerdictIPCOUNT_DROP_LIST], &s.C[ipcountIpcountVerdictIPCOUNT_DROP_RATE]
				v := Counts{pass.Packets, pass.Bytes, list.Packets, list.Bytes, rate.Packets, rate.Bytes}
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
