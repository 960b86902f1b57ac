package ipcount

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/link"

	"github.com/ebtools/ebtools/internal/testutil"
)

type summary struct {
	Final   bool
	Sources int
	Evicted uint64
	Top     []struct {
		Source         string
		Packets, Bytes uint64
	}
}

// setup makes a veth pair into a namespace with three source addresses on
// the far side, and neighbour entries both ways so that no packet waits for
// ARP or NDP and no neighbour discovery adds packets from the sources.
func setup(t *testing.T) *testutil.Veth {
	t.Helper()
	v := testutil.NewVeth(t)
	testutil.IP(t, "addr", "add", "10.201.0.1/24", "dev", v.Host)
	testutil.IP(t, "addr", "add", "fd01::1/64", "dev", v.Host, "nodad")
	for _, a := range []string{"10.201.0.2/24", "10.201.0.3/24"} {
		testutil.IP(t, "-n", v.NS, "addr", "add", a, "dev", v.Peer)
	}
	testutil.IP(t, "-n", v.NS, "addr", "add", "fd01::2/64", "dev", v.Peer, "nodad")
	for _, a := range []string{"10.201.0.1", "fd01::1"} {
		testutil.IP(t, "-n", v.NS, "neigh", "replace", a, "lladdr", v.HostMAC.String(), "dev", v.Peer, "nud", "permanent")
	}
	for _, a := range []string{"10.201.0.2", "10.201.0.3", "fd01::2"} {
		testutil.IP(t, "neigh", "replace", a, "lladdr", v.PeerMAC.String(), "dev", v.Host, "nud", "permanent")
	}
	return v
}

func sendFrom(t *testing.T, v *testutil.Veth, src, dst string, n int) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", v.NS, os.Args[0], src, dst, strconv.Itoa(n))
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("send from %s: %v\n%s", src, err, out)
	}
	if len(out) > 0 {
		t.Logf("send from %s: %s", src, out)
	}
}

// TestVeth is the acceptance run: 10,000 packets from each of three
// sources, counted exactly; nothing left on the interface afterwards.
func TestVeth(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	p := testutil.Start(t, "-o", "json", "ipcount", "-i", "0.5", v.Host)
	if !v.HostXDP(t) {
		t.Fatal("no XDP program on the interface while ipcount runs")
	}
	const n = 10000
	sendFrom(t, v, "10.201.0.2", "10.201.0.1", n)
	sendFrom(t, v, "10.201.0.3", "10.201.0.1", n)
	sendFrom(t, v, "fd01::2", "fd01::1", n)
	rest, code := p.Stop(t, syscall.SIGTERM)
	if code != 0 || len(rest) == 0 {
		t.Fatalf("exit %d, %d lines left; stderr:\n%s", code, len(rest), p.Stderr())
	}
	var s summary
	if err := json.Unmarshal([]byte(rest[len(rest)-1]), &s); err != nil || !s.Final {
		t.Fatalf("last line is not the final summary: %q (%v)", rest[len(rest)-1], err)
	}
	want := map[string]uint64{ // bytes per frame: Ethernet + IP + UDP + payload
		"10.201.0.2": 14 + 20 + 8 + payloadSize,
		"10.201.0.3": 14 + 20 + 8 + payloadSize,
		"fd01::2":    14 + 40 + 8 + payloadSize,
	}
	for _, e := range s.Top {
		if size, ok := want[e.Source]; ok {
			if e.Packets != n || e.Bytes != n*size {
				t.Errorf("%s: %d packets, %d bytes; want %d, %d", e.Source, e.Packets, e.Bytes, n, n*size)
			}
			delete(want, e.Source)
		}
	}
	if len(want) > 0 {
		t.Errorf("sources missing from the summary: %v (got %+v)", want, s.Top)
	}
	if v.HostXDP(t) {
		t.Error("XDP program still attached after SIGTERM")
	}
}

func TestKill9Detaches(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
	p := testutil.Start(t, "ipcount", v.Host)
	if !v.HostXDP(t) {
		t.Fatal("no XDP program on the interface while ipcount runs")
	}
	if _, code := p.Stop(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("exit %d after SIGKILL", code)
	}
	if v.HostXDP(t) {
		t.Error("XDP program still attached after kill -9")
	}
}

func TestRefusals(t *testing.T) {
	testutil.RequirePrivileged(t)
	v := setup(t)
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

	// Native mode on a driver without it: the namespace's loopback device.
	out, err := exec.Command("ip", "netns", "exec", v.NS, testutil.Binary(t), "ipcount", "--mode", "native", "lo").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if want := "in native mode: the driver does not support it"; !ok || ee.ExitCode() != 1 || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), want) {
		t.Errorf("native mode on lo: exit %v, output %q; want exit 1 and one line with %q", err, out, want)
	}
}
