package ipcount

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// udp appends a UDP header to an IP header made by ipv4 or ipv6 (its
// payload room), for --by dport.
func withPorts(ip []byte, hlen int, dport uint16) []byte {
	binary.BigEndian.PutUint16(ip[hlen:], 1234)
	binary.BigEndian.PutUint16(ip[hlen+2:], dport)
	return ip
}

// ipv4Options is an IPv4 header with 8 bytes of options (IHL 7), then UDP.
func ipv4Options(src string, dport uint16) []byte {
	h := ipv4(src, 8+8)
	h[0] = 0x47
	copy(h[28:], h[20:28]) // the options push the payload back
	for i := 20; i < 28; i++ {
		h[i] = 1 // NOP options
	}
	return withPorts(h, 28, dport)
}

// ipv6Ext is an IPv6 header, a hop-by-hop and a destination options
// header (8 bytes each), then UDP.
func ipv6Ext(src string, dport uint16) []byte {
	h := ipv6(src, 8+8+8)
	h[6] = 0   // hop-by-hop
	h[40] = 60 // then destination options
	h[48] = 17 // then UDP
	return withPorts(h, 56, dport)
}

type frameCase struct {
	name      string
	data      []byte
	source    string // "" if no source is counted
	proto     uint8
	dport     uint16
	nonIP     bool
	malformed bool
}

func frameCases() []frameCase {
	return []frameCase{
		{name: "IPv4", data: frame([]uint16{etherIPv4}, withPorts(ipv4("10.0.0.1", 8), 20, 53)), source: "10.0.0.1", proto: 17, dport: 53},
		{name: "IPv4 with options", data: frame([]uint16{etherIPv4}, ipv4Options("10.0.0.5", 80)), source: "10.0.0.5", proto: 17, dport: 80},
		{name: "IPv6", data: frame([]uint16{etherIPv6}, withPorts(ipv6("2001:db8::7", 8), 40, 443)), source: "2001:db8::7", proto: 17, dport: 443},
		{name: "IPv6 with extension headers", data: frame([]uint16{etherIPv6}, ipv6Ext("2001:db8::8", 8080)), source: "2001:db8::8", proto: 17, dport: 8080},
		{name: "802.1Q IPv4", data: frame([]uint16{ether8021Q, etherIPv4}, withPorts(ipv4("10.0.0.2", 30), 20, 22)), source: "10.0.0.2", proto: 17, dport: 22},
		{name: "QinQ IPv6", data: frame([]uint16{ether8021AD, ether8021Q, etherIPv6}, withPorts(ipv6("fd00::9", 8), 40, 123)), source: "fd00::9", proto: 17, dport: 123},
		{name: "ARP", data: frame([]uint16{etherARP}, make([]byte, 28)), nonIP: true},
		{name: "truncated VLAN tag", data: frame([]uint16{ether8021Q}, []byte{0, 1}), malformed: true},
		{name: "truncated IPv4 header", data: frame([]uint16{etherIPv4}, ipv4("10.0.0.3", 0)[:12]), malformed: true},
		{name: "IPv4 options cut short", data: frame([]uint16{etherIPv4}, ipv4Options("10.0.0.6", 1)[:24]), malformed: true},
		{name: "truncated IPv6 header", data: frame([]uint16{etherIPv6}, ipv6("fd00::3", 0)[:39]), malformed: true},
		{name: "IPv4 with IHL 4", data: frame([]uint16{etherIPv4}, append([]byte{0x44}, ipv4("10.0.0.4", 0)[1:]...)), malformed: true},
		{name: "IPv6 ethertype, version 4", data: frame([]uint16{etherIPv6}, append([]byte{0x40}, ipv6("fd00::4", 0)[1:]...)), malformed: true},
	}
}

// TestFrames runs the XDP program on crafted frames (BPF_PROG_TEST_RUN) and
// checks what each adds: to its key (source, or source, protocol and
// port with --by dport), or to non-IP or malformed. The kernel does not run
// XDP on frames shorter than an Ethernet header, so a truncated one is a
// VLAN tag cut short. Truncated extension headers and ports only matter
// (and are malformed) with --by.
func TestFrames(t *testing.T) {
	testutil.RequirePrivileged(t)
	cut := []frameCase{
		{name: "IPv6 extension header cut short", data: frame([]uint16{etherIPv6}, ipv6Ext("2001:db8::9", 1)[:44]), malformed: true},
		{name: "UDP ports cut short", data: frame([]uint16{etherIPv4}, ipv4("10.0.0.7", 8)[:22]), malformed: true},
	}
	for _, by := range []string{"", "dport"} {
		cases := frameCases()
		if by != "" {
			cases = append(cases, cut...)
		}
		for _, tt := range cases {
			t.Run(tt.name+" by "+by, func(t *testing.T) {
				args := []string{}
				if by != "" {
					args = append(args, "--by", by)
				}
				prog, tab, _ := load(t, args...)
				for i := 0; i < 3; i++ {
					ret, err := prog.Run(&ebpf.RunOptions{Data: tt.data})
					if err != nil || ret != 2 { // XDP_PASS
						t.Fatalf("run: %d, %v; want XDP_PASS", ret, err)
					}
				}
				iv, err := tab.next()
				if err != nil {
					t.Fatal(err)
				}
				want := Counts{Packets: 3, Bytes: uint64(3 * len(tt.data))}
				var wantKeys map[Key]Counts
				if tt.source != "" {
					a := netip.MustParseAddr(tt.source)
					k := Key{Addr: a.As16(), V6: a.Is6()}
					if by != "" {
						k.Proto, k.Dport = tt.proto, tt.dport
					}
					wantKeys = map[Key]Counts{k: want}
				}
				if len(iv.keys) != len(wantKeys) || (wantKeys != nil && !maps(iv.keys, wantKeys)) {
					t.Errorf("keys %+v, want %+v", iv.keys, wantKeys)
				}
				check := func(name string, got Counts, on bool) {
					if (on && got != want) || (!on && got != Counts{}) {
						t.Errorf("%s = %+v, want %+v if %v", name, got, want, on)
					}
				}
				a, _ := netip.ParseAddr(tt.source)
				check("ipv4", iv.ipv4, tt.source != "" && a.Is4())
				check("ipv6", iv.ipv6, tt.source != "" && a.Is6())
				check("non-IP", iv.nonIP, tt.nonIP)
				check("malformed", iv.malformed, tt.malformed)
			})
		}
	}
}

func maps(a, b map[Key]Counts) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// cpuNs is this thread's CPU time: a test run's own cost, without the time
// the scheduler gave to others on this shared machine.
func cpuNs() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return ts.Nano()
}

// perPacket measures programs on data in paired rounds (BPF_PROG_TEST_RUN,
// 2,000,000 runs each) and returns the median ns per packet of each and
// the median ratio of the second to the first.
func perPacket(t testing.TB, data []byte, progs ...*ebpf.Program) (ns []float64, ratio float64) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Under an emulator the timings are only logged: a tenth of the runs
	// (a twentieth on arm64) keeps TestCost from taking 170 s there.
	repeat, rounds := 2_000_000/testutil.Slowdown(), 11
	all := make([][]float64, len(progs))
	var ratios []float64
	for r := 0; r < rounds; r++ {
		cur := make([]float64, len(progs))
		for i, p := range progs {
			began := cpuNs()
			if _, _, err := p.Benchmark(data, repeat, nil); err != nil {
				t.Fatal(err)
			}
			cur[i] = float64(cpuNs()-began) / float64(repeat)
			all[i] = append(all[i], cur[i])
		}
		ratios = append(ratios, cur[len(cur)-1]/cur[0])
	}
	for i := range all {
		slices.Sort(all[i])
		ns = append(ns, all[i][rounds/2])
	}
	slices.Sort(ratios)
	return ns, ratios[rounds/2]
}

// tenThousand is a drop list of 10,000 prefixes, none of them the test
// frames' sources: 5,000 IPv4 /24 and /32, 5,000 IPv6 /48 and /128.
func tenThousand(t testing.TB) string {
	t.Helper()
	var b []byte
	for i := 0; i < 5000; i++ {
		if i%2 == 0 {
			b = append(b, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).String()+"/32\n"...)
		} else {
			b = append(b, netip.AddrFrom4([4]byte{100, byte(64 + i>>8), byte(i), 0}).String()+"/24\n"...)
		}
		a := [16]byte{0x20, 0x01, 0x0d, 0xb9, byte(i >> 8), byte(i)}
		if i%2 == 0 {
			a[15] = 1
			b = append(b, netip.AddrFrom16(a).String()+"/128\n"...)
		} else {
			b = append(b, netip.AddrFrom16(a).String()+"/48\n"...)
		}
	}
	path := t.TempDir() + "/drop.txt"
	if err := writeFile(path, b); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCost compares ipcount's per-packet cost with an empty XDP program's,
// in the same run, on IPv4, IPv6 and 802.1Q frames, without and with a
// 10,000-prefix drop list. The target is 1.5x; measured here 1.46-1.59x
// without a list and 1.6-1.7x with one (README, Performance), so the test
// fails only past maxCost, a regression beyond what is measured today.
func TestCost(t *testing.T) {
	const maxCost = 1.9
	testutil.RequirePrivileged(t)
	frames := []struct {
		name string
		data []byte
	}{
		{"IPv4", frame([]uint16{etherIPv4}, ipv4("10.0.0.1", 18))},
		{"IPv6", frame([]uint16{etherIPv6}, ipv6("2001:db8::7", 18))},
		{"802.1Q", frame([]uint16{ether8021Q, etherIPv4}, ipv4("10.0.0.2", 18))},
	}
	empty := emptyXDP(t)
	plain, _, _ := load(t)
	listed, _, _ := load(t, "--drop-file", tenThousand(t))
	for _, f := range frames {
		for _, p := range []struct {
			name string
			prog *ebpf.Program
		}{{"", plain}, {" with a 10,000-prefix drop list", listed}} {
			ns, ratio := perPacket(t, f.data, empty, p.prog)
			t.Logf("%s%s: empty XDP %.2f ns, ipcount %.2f ns per packet: %.2fx (medians of 11 paired rounds)", f.name, p.name, ns[0], ns[1], ratio)
			if testutil.Slowdown() > 1 {
				continue // under an emulator the timings measure the emulator
			}
			if ratio > maxCost {
				t.Errorf("%s%s: ipcount costs %.2fx an empty XDP program, want at most %.1fx", f.name, p.name, ratio, maxCost)
			}
		}
	}
}
