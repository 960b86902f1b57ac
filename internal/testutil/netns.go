package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// Veth is a veth pair whose peer end lives in a network namespace made for
// one test: Host in this namespace, Peer in NS.
type Veth struct {
	NS, Host, Peer string
	// HostMAC and PeerMAC are the two ends' link-layer addresses.
	HostMAC, PeerMAC net.HardwareAddr
}

var vethSeq atomic.Int32

// NewVeth creates a network namespace and a veth pair into it, both up,
// and removes them when t ends. Names are unique to this process.
func NewVeth(t testing.TB) *Veth {
	t.Helper()
	n := vethSeq.Add(1)
	v := &Veth{
		NS:   fmt.Sprintf("ebtools-test-%d-%d", os.Getpid(), n),
		Host: fmt.Sprintf("ebt%dh%d", os.Getpid()%100000, n),
		Peer: fmt.Sprintf("ebt%dp%d", os.Getpid()%100000, n),
	}
	IP(t, "netns", "add", v.NS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", v.NS).Run() })
	IP(t, "link", "add", v.Host, "type", "veth", "peer", "name", v.Peer, "netns", v.NS)
	t.Cleanup(func() { exec.Command("ip", "link", "del", v.Host).Run() })
	IP(t, "link", "set", v.Host, "up")
	IP(t, "-n", v.NS, "link", "set", v.Peer, "up")
	ifi, err := net.InterfaceByName(v.Host)
	if err != nil {
		t.Fatal(err)
	}
	v.HostMAC = ifi.HardwareAddr
	// "... link/ether 12:34:56:78:9a:bc brd ..."
	f := strings.Fields(IP(t, "-n", v.NS, "link", "show", v.Peer))
	for i := range f[:len(f)-1] {
		if f[i] == "link/ether" {
			v.PeerMAC, _ = net.ParseMAC(f[i+1])
		}
	}
	if v.PeerMAC == nil {
		t.Fatalf("no MAC address for %s", v.Peer)
	}
	return v
}

// IP runs ip(8) with args and fails t on error.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// HostXDP reports whether an XDP program is attached to Host.
func (v *Veth) HostXDP(t testing.TB) bool {
	t.Helper()
	return strings.Contains(IP(t, "-d", "link", "show", v.Host), "prog/xdp")
}
