package ipcount

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtools/ebtools/internal/testutil"
)

// frame builds an Ethernet frame: ethertype(s) after the MACs, then body.
func frame(types []uint16, body []byte) []byte {
	b := make([]byte, 12) // destination and source MAC
	for i, t := range types {
		b = binary.BigEndian.AppendUint16(b, t)
		if i < len(types)-1 {
			b = binary.BigEndian.AppendUint16(b, 100) // VLAN TCI, then the next type
		}
	}
	return append(b, body...)
}

func ipv4(src string, payload int) []byte {
	h := make([]byte, 20+payload)
	h[0] = 0x45 // version 4, IHL 5
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)))
	h[9] = 17 // UDP
	a := netip.MustParseAddr(src).As4()
	copy(h[12:], a[:])
	copy(h[16:], []byte{192, 0, 2, 1})
	return h
}

func ipv6(src string, payload int) []byte {
	h := make([]byte, 40+payload)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(payload))
	h[6] = 17
	a := netip.MustParseAddr(src).As16()
	copy(h[8:], a[:])
	return h
}

const (
	etherIPv4   = 0x0800
	etherIPv6   = 0x86DD
	ether8021Q  = 0x8100
	ether8021AD = 0x88A8
	etherARP    = 0x0806
)

func loadObjects(t testing.TB) *ipcountObjects {
	t.Helper()
	var objs ipcountObjects
	if err := loadIpcountObjects(&objs, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { objs.Close() })
	return &objs
}

// load loads the program as Run would for cfg (flags as on the command
// line) and returns it with its table.
func load(t testing.TB, args ...string) (*ebpf.Program, *table, config) {
	t.Helper()
	cfg, err := testutil.Parse(t, (&Tool{}).Flags(), append(args, "eth0"), parseConfig)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := loadIpcount()
	if err != nil {
		t.Fatal(err)
	}
	consts, err := cfg.constants()
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range consts {
		if err := spec.Variables[name].Set(v); err != nil {
			t.Fatal(name, err)
		}
	}
	spec.Maps[ipcountMapSlots].MaxEntries = 2 << cfg.slotBits
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coll.Close() })
	tab := newTable(coll, cfg.slotBits, cfg.prefix4, cfg.prefix6)
	list, err := cfg.loadList()
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.setList(list); err != nil {
		t.Fatal(err)
	}
	return coll.Programs[ipcountProgIpcount], tab, cfg
}

func emptyXDP(t testing.TB) *ebpf.Program {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func BenchmarkXDP(b *testing.B) {
	data := frame([]uint16{etherIPv4}, ipv4("10.0.0.1", 18))
	for name, p := range map[string]*ebpf.Program{"empty": emptyXDP(b), "ipcount": loadObjects(b).Ipcount} {
		b.Run(name, func(b *testing.B) {
			_, d, err := p.Benchmark(data, b.N, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(d.Nanoseconds()), "ns/packet")
		})
	}
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
