package ipcount

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// jrow is one JSON row of ipcount's output.
type jrow struct {
	Interval   uint64
	Cumulative bool
	Final      bool
	Row        string
	Source     *string
	Proto      *string
	Dport      *uint16
	Packets    uint64
	Bytes      uint64
	Dropped    uint64  `json:"dropped_packets"`
	DropReason *string `json:"drop_reason"`
	Evictions  *uint64
	Untracked  *uint64 `json:"untracked_packets"`
}

func parseRows(t *testing.T, lines []string) []jrow {
	t.Helper()
	var rows []jrow
	for _, l := range lines {
		var r jrow
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not a JSON row: %q: %v", l, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// final returns the rows of the summary since start, by source (and
// aggregate rows by their name).
func final(t *testing.T, lines []string) map[string]jrow {
	t.Helper()
	m := map[string]jrow{}
	for _, r := range parseRows(t, lines) {
		if !r.Final {
			continue
		}
		k := r.Row
		if r.Source != nil {
			k = *r.Source
			if r.Dport != nil {
				k += " " + *r.Proto + " " + strconv.Itoa(int(*r.Dport))
			}
		}
		m[k] = r
	}
	if m["total"].Row == "" {
		t.Fatalf("no final summary in %d lines; the last: %q", len(lines), lines[max(0, len(lines)-3):])
	}
	return m
}

// setup makes a veth pair into a namespace; the host end has 10.201.0.1
// and fd01::1. IPv6 is off on the far end, so that nothing but the test's
// frames arrives (no router solicitations or MLD reports).
func setup(t testing.TB) *testutil.Veth {
	t.Helper()
	v := testutil.NewVeth(t)
	testutil.IP(t, "-n", v.NS, "link", "set", v.Peer, "down")
	if out, err := exec.Command("ip", "netns", "exec", v.NS, "sysctl", "-qw", "net.ipv6.conf."+v.Peer+".disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("disable IPv6: %v %s", err, out)
	}
	testutil.IP(t, "-n", v.NS, "link", "set", v.Peer, "up")
	testutil.IP(t, "addr", "add", "10.201.0.1/24", "dev", v.Host)
	testutil.IP(t, "addr", "add", "fd01::1/64", "dev", v.Host, "nodad")
	return v
}

// run runs the generator in v's namespace: helper's flood or send.
func run(t testing.TB, v *testutil.Veth, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", v.NS, os.Args[0], args[0], v.Peer, v.HostMAC.String()}, args[1:]...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generator %v: %v\n%s", args, err, out)
	}
	t.Logf("generator %v: %s", args, strings.TrimSpace(string(out)))
	return string(out)
}

// deliverable is the rate at which every packet a test counts at the
// server arrives: 20,000 packets/s, divided by EBTOOLS_TEST_SLOWDOWN (under
// emulation a faster sender fills the veth's ring before the receiving
// side's softirq drains it).
func deliverable() int { return max(20000/testutil.Slowdown(), 100) }

func send(t *testing.T, v *testutil.Veth, src, dst string, n, pps int) float64 {
	t.Helper()
	out := run(t, v, "send", src, dst, "7777", strconv.Itoa(n), strconv.Itoa(pps))
	var sent, retried int
	var secs float64
	fmt.Sscanf(out, "sent %d retried %d seconds %f", &sent, &retried, &secs)
	return secs
}

// frameLen is the size of the generator's frames: Ethernet, IP, UDP and
// 18 bytes of payload.
func frameLen(a netip.Addr) uint64 {
	if a.Is4() {
		return 14 + 20 + 8 + 18
	}
	return 14 + 40 + 8 + 18
}

// TestFlood: 1,000,000 random spoofed sources and 3 real ones sending
// 6.25 % of the packets each (5.3 % of all). The totals are exact, the
// three are the top rows within 1 % (ipcount can only undercount a source,
// never overcount), the maps keep their sizes, and the program is gone
// after exit. Under emulation the flood is 1,000,000 / EBTOOLS_TEST_SLOWDOWN
// sources: still 12 times the table's 8,192 slots per interval.
func TestFlood(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	p := testutil.Start(t, "-o", "json", "ipcount", "-i", "1", v.Host)
	random := 1_000_000 / testutil.Slowdown()
	perHeavy := random / 16
	heavy := []string{"10.201.0.2", "10.201.0.3", "10.201.0.4"}
	began := time.Now()
	run(t, v, "flood", "10.201.0.1", strconv.Itoa(random), strings.Join(heavy, ","), strconv.Itoa(perHeavy))
	t.Logf("flood of %d frames in %v: %.0f frames/s", random+3*perHeavy, time.Since(began), float64(random+3*perHeavy)/time.Since(began).Seconds())
	mem := mapMemory(t, v)
	rest, code := p.Stop(t, syscall.SIGTERM)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
	}
	f := final(t, rest)
	n := uint64(random + 3*perHeavy)
	if tot := f["total"]; tot.Packets != n || tot.Bytes != n*60 {
		t.Errorf("total %d packets, %d bytes; want exactly %d, %d", tot.Packets, tot.Bytes, n, n*60)
	}
	if f["ipv4"].Packets != n || f["other"].Packets+f[heavy[0]].Packets+f[heavy[1]].Packets+f[heavy[2]].Packets > n {
		t.Errorf("ipv4 %+v other %+v", f["ipv4"], f["other"])
	}
	for _, h := range heavy {
		got := f[h].Packets
		if got > uint64(perHeavy) || float64(got) < 0.99*float64(perHeavy) {
			t.Errorf("%s: %d packets, want %d within 1 %%", h, got, perHeavy)
		}
	}
	var top []string
	for _, r := range parseRows(t, rest) {
		if r.Final && r.Row == "source" && len(top) < 3 {
			top = append(top, *r.Source)
		}
	}
	if strings.Join(top, ",") != strings.Join(heavy, ",") {
		t.Errorf("top rows %v, want %v", top, heavy)
	}
	t.Logf("evictions %d, untracked %d packets; BPF maps %d KiB", *f["total"].Evictions, *f["total"].Untracked, mem>>10)
	if mem > 64<<20 {
		t.Errorf("BPF maps take %d MiB, want at most 64", mem>>20)
	}
	if v.HostXDP(t) {
		t.Error("XDP program still attached after SIGTERM")
	}
}

// mapMemory returns the memory the maps of the XDP program on v.Host
// reserve (per-CPU arrays on every possible CPU, preallocated hash maps;
// the drop list tries allocate per entry, and are empty here): fixed at
// start, whatever the traffic.
func mapMemory(t *testing.T, v *testutil.Veth) uint64 {
	t.Helper()
	out := testutil.IP(t, "-d", "-j", "link", "show", "dev", v.Host)
	var links []struct {
		XDP struct {
			Prog struct{ ID int } `json:"prog"`
		} `json:"xdp"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) == 0 || links[0].XDP.Prog.ID == 0 {
		t.Fatalf("no XDP program in %s (%v)", out, err)
	}
	prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(links[0].XDP.Prog.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	info, err := prog.Info()
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := info.MapIDs()
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, id := range ids {
		m, err := ebpf.NewMapFromID(id)
		if err != nil {
			t.Fatal(err)
		}
		mi, err := m.Info()
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(mi.ValueSize) * uint64(mi.MaxEntries)
		switch mi.Type {
		case ebpf.PerCPUArray:
			n *= uint64(cpus)
		case ebpf.LRUHash:
			n += uint64(mi.KeySize) * uint64(mi.MaxEntries)
		case ebpf.LPMTrie:
			n = 0
		}
		t.Logf("map %s: %v of %d entries, %d KiB", mi.Name, mi.Type, mi.MaxEntries, n>>10)
		if mi.Name == "slots" && mi.MaxEntries != 2*4096 {
			t.Errorf("slots map of %d entries, want 8192", mi.MaxEntries)
		}
		sum += n
	}
	return sum
}

// server counts the UDP datagrams that arrive on port 7777 of the host
// end, per source address.
type server struct {
	mu    sync.Mutex
	count map[string]int
	conns []*net.UDPConn
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{count: map[string]int{}}
	for _, a := range []string{"10.201.0.1:7777", "[fd01::1]:7777"} {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(a)))
		if err != nil {
			t.Fatal(err)
		}
		// 8 MiB whatever net.core.rmem_max says (SO_RCVBUFFORCE, as
		// root): a burst waits here, not dropped, while the reader is
		// slow (an emulated test kernel).
		raw, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var serr error
		if err := raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
		}); err != nil || serr != nil {
			t.Fatalf("set SO_RCVBUFFORCE: %v %v", err, serr)
		}
		s.conns = append(s.conns, c)
		go func() {
			buf := make([]byte, 2048)
			for {
				_, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				s.mu.Lock()
				s.count[from.Addr().Unmap().String()]++
				s.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

// got waits until the count of src stops changing and returns it.
func (s *server) got(src string) int {
	last := -1
	for {
		time.Sleep(testutil.Scaled(100 * time.Millisecond))
		s.mu.Lock()
		n := s.count[src]
		s.mu.Unlock()
		if n == last {
			return n
		}
		last = n
	}
}

// TestDropList: listed sources' packets (IPv4 and IPv6) never arrive at a
// server on the host end, unlisted ones all do, and ipcount's passed and
// dropped counts match; with --dry-run everything arrives and ipcount
// shows what it would have dropped.
func TestDropList(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, dry := range []bool{false, true} {
		t.Run(fmt.Sprintf("dry-run=%v", dry), func(t *testing.T) {
			v := setup(t)
			srv := newServer(t)
			args := []string{"-o", "json", "ipcount", "-i", "0.5", "--drop", "10.201.0.3", "--drop", "fd01::3/128", v.Host}
			if dry {
				args = append(args[:len(args)-1], "--dry-run", v.Host)
			}
			p := testutil.Start(t, args...)
			if first := strings.SplitN(p.Stderr(), "\n", 2)[0]; !strings.Contains(first, "on "+v.Host+": packets from 2 listed prefixes (10.201.0.3/32, fd01::3/128)") {
				t.Errorf("first line on stderr: %q", first)
			}
			const n = 5000
			sources := map[string]bool{"10.201.0.2": false, "10.201.0.3": true, "fd01::2": false, "fd01::3": true}
			for src := range sources {
				dst := "10.201.0.1"
				if strings.Contains(src, ":") {
					dst = "fd01::1"
				}
				send(t, v, src, dst, n, deliverable())
			}
			arrived := map[string]int{}
			for src := range sources {
				arrived[src] = srv.got(src)
			}
			rest, code := p.Stop(t, syscall.SIGTERM)
			if code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
			}
			f := final(t, rest)
			for src, listed := range sources {
				r := f[src]
				size := frameLen(netip.MustParseAddr(src))
				switch {
				case listed && !dry:
					if arrived[src] != 0 || r.Packets != 0 || r.Dropped != n || r.DropReason == nil || *r.DropReason != "list" {
						t.Errorf("%s (listed): %d arrived; ipcount %d passed, %d dropped (%v); want 0, 0, %d (list)", src, arrived[src], r.Packets, r.Dropped, r.DropReason, n)
					}
				case listed && dry:
					if arrived[src] != n || r.Packets != 0 || r.Dropped != n {
						t.Errorf("%s (listed, dry run): %d arrived; ipcount %d passed, %d would drop; want %d, 0, %d", src, arrived[src], r.Packets, r.Dropped, n, n)
					}
				default:
					if arrived[src] != n || r.Packets != uint64(n) || r.Bytes != n*size || r.Dropped != 0 {
						t.Errorf("%s (not listed): %d arrived; ipcount %d passed (%d bytes), %d dropped; want %d, %d", src, arrived[src], r.Packets, r.Bytes, r.Dropped, n, n)
					}
				}
			}
			if f["total"].Dropped != 2*n {
				t.Errorf("total dropped %d, want %d", f["total"].Dropped, 2*n)
			}
			if v.HostXDP(t) {
				t.Error("XDP program still attached after SIGTERM")
			}
		})
	}
}

// TestRateLimit: a source at 3x the limit gets the limit through in each
// one-second window; its sending time spans floor(s) to ceil(s)+1 windows
// (the first opens with its first packet), so the test accepts that many
// limits, 1 % less for CPUs racing at a window's start. A source under the
// limit loses nothing. The server's counts match ipcount's.
func TestRateLimit(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	srv := newServer(t)
	const limit = 300
	p := testutil.Start(t, "-o", "json", "ipcount", "-i", "0.5", "--rate-limit", strconv.Itoa(limit), v.Host)
	var wg sync.WaitGroup
	var secs float64
	wg.Add(1)
	go func() {
		defer wg.Done()
		secs = send(t, v, "10.201.0.2", "10.201.0.1", 9*limit, 3*limit)
	}()
	send(t, v, "10.201.0.3", "10.201.0.1", limit*3/2, limit/2)
	wg.Wait()
	fast, slow := srv.got("10.201.0.2"), srv.got("10.201.0.3")
	rest, code := p.Stop(t, syscall.SIGTERM)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
	}
	f := final(t, rest)
	lo, hi := float64(limit)*float64(int(secs))*0.99, float64(limit)*(float64(int(secs))+2)
	if r := f["10.201.0.2"]; float64(r.Packets) < lo || float64(r.Packets) > hi || r.Packets != uint64(fast) || r.Packets+r.Dropped != 9*limit {
		t.Errorf("at 3x the limit for %.2f s: %d passed, %d dropped, %d arrived; want %.0f to %.0f passed, all arrived", secs, r.Packets, r.Dropped, fast, lo, hi)
	}
	if r := f["10.201.0.3"]; r.Packets != limit*3/2 || r.Dropped != 0 || slow != limit*3/2 {
		t.Errorf("under the limit: %d passed, %d dropped, %d arrived; want all %d", r.Packets, r.Dropped, slow, limit*3/2)
	}
}

// TestReload: --drop-file reread on SIGHUP; a bad file is reported with
// its line number and the list in force stays.
func TestReload(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	srv := newServer(t)
	file := t.TempDir() + "/drop.txt"
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# first\n10.201.0.3\n")
	p := testutil.Start(t, "-o", "json", "ipcount", "-i", "0.5", "--drop-file", file, v.Host)
	arrive := func(want map[string]int) {
		t.Helper()
		before := map[string]int{}
		for src := range want {
			before[src] = srv.got(src)
			send(t, v, src, "10.201.0.1", 1000, deliverable())
		}
		for src, n := range want {
			if got := srv.got(src) - before[src]; got != n {
				t.Errorf("%s: %d of 1000 arrived, want %d", src, got, n)
			}
		}
	}
	arrive(map[string]int{"10.201.0.2": 1000, "10.201.0.3": 0})
	hup := func(want string) {
		t.Helper()
		p.Cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(testutil.Timeout)
		for !strings.Contains(p.Stderr(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q on stderr:\n%s", want, p.Stderr())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write("10.201.0.2/32 # now this one\n")
	hup("drop list reloaded")
	arrive(map[string]int{"10.201.0.2": 0, "10.201.0.3": 1000})
	write("10.201.0.3\n10.201.0.300\n")
	hup(`line 2: \"10.201.0.300\"`)
	if !strings.Contains(p.Stderr(), "the previous one stays in force") {
		t.Errorf("stderr:\n%s", p.Stderr())
	}
	arrive(map[string]int{"10.201.0.2": 0, "10.201.0.3": 1000})
	if _, code := p.Stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
	}
}

// TestKill9Detaches: kill -9 leaves no program attached, so nothing is
// dropped any more.
func TestKill9Detaches(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	srv := newServer(t)
	p := testutil.Start(t, "ipcount", "--drop", "10.201.0.2", v.Host)
	if !v.HostXDP(t) {
		t.Fatal("no XDP program on the interface while ipcount runs")
	}
	if _, code := p.Stop(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	if v.HostXDP(t) {
		t.Error("XDP program still attached after kill -9")
	}
	send(t, v, "10.201.0.2", "10.201.0.1", 1000, deliverable())
	if got := srv.got("10.201.0.2"); got != 1000 {
		t.Errorf("%d of 1000 arrived after kill -9", got)
	}
}

// TestInterfaceGone: ipcount exits 1 within an interval of its interface's
// deletion.
func TestInterfaceGone(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	p := testutil.Start(t, "ipcount", "-i", "0.5", v.Host)
	testutil.IP(t, "link", "del", v.Host)
	began := time.Now()
	_, code := p.Wait(t)
	if code != 1 || !strings.Contains(p.Stderr(), "ebtools: interface "+v.Host+" is gone") {
		t.Errorf("exit %d, stderr:\n%s", code, p.Stderr())
	}
	if d := time.Since(began); d > testutil.Scaled(time.Second) {
		t.Errorf("exited %v after the deletion, want within an interval (0.5 s)", d)
	}
}

func TestRefusals(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	// A peer this machine is reached from: an established TCP connection
	// from 10.201.0.2 (a local socket pair over the host end's addresses).
	ln, err := net.Listen("tcp", "10.201.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	testutil.IP(t, "addr", "add", "10.201.0.2/32", "dev", "lo")
	defer exec.Command("ip", "addr", "del", "10.201.0.2/32", "dev", "lo").Run()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.201.0.2")}}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := exec.Command(testutil.Binary(t), "ipcount", "--drop", "10.201.0.0/24", v.Host).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "covers 10.201.0.2, the peer of a TCP connection") || !strings.Contains(string(out), "--force") {
		t.Errorf("drop list covering a peer: exit %v, output %q", err, out)
	}
	forced := testutil.Start(t, "ipcount", "--force", "--drop", "10.201.0.0/24", v.Host)
	if _, code := forced.Stop(t, syscall.SIGTERM); code != 0 || !strings.Contains(forced.Stderr(), "--force: dropping a peer") {
		t.Errorf("--force: exit %d, stderr:\n%s", code, forced.Stderr())
	}

	// Someone else's XDP program: ebtools must leave it alone.
	ifi, err := net.InterfaceByName(v.Host)
	if err != nil {
		t.Fatal(err)
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: emptyXDP(t), Interface: ifi.Index})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tt := range []struct {
		name, iface, want string
	}{
		{"missing interface", "nosuchif0", `ebtools: attach XDP: no network interface "nosuchif0"`},
		{"interface with an XDP program", v.Host, "already has an XDP program, and ebtools does not replace it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(testutil.Binary(t), "ipcount", tt.iface).CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %v, output %q; want exit 1 and one line with %q", err, out, tt.want)
			}
		})
	}
	if !v.HostXDP(t) {
		t.Error("the other XDP program was removed")
	}
}
