package ipcount

import (
	"encoding/binary"
	"fmt"
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
	cfg, err := parse(t, append(args, "eth0"))
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
	for name, n := range cfg.mapSizes() {
		spec.Maps[name].MaxEntries = n
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { coll.Close() })
	tab, err := newTable(coll, cfg.slotBits, cfg.prefix4, cfg.prefix6)
	if err != nil {
		t.Fatal(err)
	}
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

// BenchmarkXDP is TestCost's measurement for make bench: ns per packet
// of an empty XDP program and of ipcount, and their ratio.
func BenchmarkXDP(b *testing.B) {
	empty := emptyXDP(b)
	plain, _, _ := load(b)
	listed, _, _ := load(b, "--drop-file", tenThousand(b))
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"IPv4", frame([]uint16{etherIPv4}, ipv4("10.0.0.1", 18))},
		{"IPv6", frame([]uint16{etherIPv6}, ipv6("2001:db8::7", 18))},
		{"802.1Q", frame([]uint16{ether8021Q, etherIPv4}, ipv4("10.0.0.2", 18))},
	} {
		for _, p := range []struct {
			name string
			prog *ebpf.Program
		}{{"", plain}, {"/10000-prefix-list", listed}} {
			b.Run(f.name+p.name, func(b *testing.B) {
				ns, ratio := perPacket(b, f.data, empty, p.prog)
				b.ReportMetric(ns[0], "empty-ns/packet")
				b.ReportMetric(ns[1], "ns/packet")
				b.ReportMetric(ratio, "x-empty")
			})
		}
	}
}

// BenchmarkVeth measures the packets per second the generator sustains
// into a veth (500,000 frames from random sources): without XDP, with
// ipcount, and with ipcount and a 10,000-prefix drop list.
func BenchmarkVeth(b *testing.B) {
	testutil.RequirePrivileged(b)
	list := tenThousand(b)
	for _, with := range []struct {
		name string
		args []string
	}{
		{"none", nil}, {"ipcount", []string{"ipcount"}}, {"ipcount-10000-prefix-list", []string{"ipcount", "--drop-file", list}},
	} {
		b.Run(with.name, func(b *testing.B) {
			v := setup(b)
			if with.args != nil {
				p := testutil.Start(b, append(with.args, v.Host)...)
				defer p.Stop(b, os.Interrupt)
			}
			out := run(b, v, "flood", "10.201.0.1", "500000", "10.201.0.2", "0")
			var sent, retried int
			var secs float64
			fmt.Sscanf(out, "sent %d retried %d seconds %f", &sent, &retried, &secs)
			b.ReportMetric(float64(sent)/secs, "packets/s")
		})
	}
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }
