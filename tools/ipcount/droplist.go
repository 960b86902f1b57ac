package ipcount

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/ebtools/ebtools/tools"
)

// maxList bounds a drop list (the tries' max_entries in bpf/ipcount.bpf.c).
const maxList = 1 << 20

// dropList is a set of prefixes whose packets are dropped.
type dropList struct {
	prefixes []netip.Prefix
}

func (l *dropList) len() int {
	if l == nil {
		return 0
	}
	return len(l.prefixes)
}

// summary lists the first n prefixes.
func (l *dropList) summary(n int) string {
	var s []string
	for i, p := range l.prefixes {
		if i == n {
			s = append(s, "...")
			break
		}
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// parsePrefix parses a CIDR or a bare address (a /32 or /128), IPv4 or
// IPv6, and clears the bits past the prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not a prefix such as 203.0.113.0/24 or 2001:db8::/32", s)
		}
		if p.Addr().Is4In6() {
			return p, fmt.Errorf("%q: write IPv4 prefixes as IPv4", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not a prefix such as 203.0.113.0/24 or 2001:db8::/32", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseList reads one prefix per line; # starts a comment. Errors name
// the line.
func parseList(r io.Reader, name string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<16)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		p, err := parsePrefix(text)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		if len(out) == maxList {
			return nil, fmt.Errorf("%s line %d: more than %d prefixes", name, line, maxList)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// loadList builds the drop list from --drop and --drop-file.
func (cfg *config) loadList() (*dropList, error) {
	l := &dropList{}
	for _, s := range cfg.drop {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, tools.Usagef("--drop %w", err)
		}
		l.prefixes = append(l.prefixes, p)
	}
	if cfg.dropFile != "" {
		f, err := os.Open(cfg.dropFile)
		if err != nil {
			return nil, fmt.Errorf("read drop file: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("read drop file %q: not a regular file", cfg.dropFile)
		}
		ps, err := parseList(f, "drop file "+cfg.dropFile)
		if err != nil {
			return nil, err
		}
		l.prefixes = append(l.prefixes, ps...)
	}
	slices.SortFunc(l.prefixes, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	l.prefixes = slices.Compact(l.prefixes)
	if len(l.prefixes) > maxList {
		return nil, fmt.Errorf("drop list: %d prefixes, more than %d", len(l.prefixes), maxList)
	}
	return l, nil
}

// lpmKey is a prefix as the trie stores it: its family first, IPv4
// v4-mapped.
func lpmKey(p netip.Prefix) ipcountLpmKey {
	k := ipcountLpmKey{Prefixlen: 32 + uint32(p.Bits()), Family: uint32(ipcountIpcountLpmFamilyIPCOUNT_LPM_V6), Addr: p.Addr().As16()}
	if p.Addr().Is4() {
		k.Prefixlen += 96
		k.Family = uint32(ipcountIpcountLpmFamilyIPCOUNT_LPM_V4)
	}
	return k
}

// uniform returns list_uniform's bits: whether no listed prefix of a
// family is longer than the keys, so that one verdict holds per key.
func (l *dropList) uniform(prefix4, prefix6 int) uint32 {
	u := uint32(3)
	for _, p := range l.prefixes {
		if p.Addr().Is4() && p.Bits() > prefix4 {
			u &^= 1
		}
		if p.Addr().Is6() && p.Bits() > prefix6 {
			u &^= 2
		}
	}
	return u
}

// covers returns the first listed prefix that contains a.
func (l *dropList) covers(a netip.Addr) (netip.Prefix, bool) {
	for _, p := range l.prefixes {
		if p.Contains(a.Unmap()) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// checkReach refuses a list that covers a peer this machine is reached from
// on ifi, unless force: the remote end of an established TCP connection to
// one of ifi's addresses (/proc/net/tcp and tcp6, which ssh sessions are),
// and the client of $SSH_CONNECTION if it came in on ifi.
func (l *dropList) checkReach(ifi *net.Interface, force bool, log hclog.Logger) error {
	if l.len() == 0 {
		return nil
	}
	local := map[netip.Addr]bool{}
	addrs, err := ifi.Addrs()
	if err != nil {
		return fmt.Errorf("read addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				local[ip.Unmap()] = true
			}
		}
	}
	peers := map[netip.Addr]string{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue // no IPv6 in this kernel
		}
		for _, c := range parseTCP(b) {
			if local[c.local.Addr()] {
				peers[c.remote.Addr()] = fmt.Sprintf("a TCP connection from %s to %s", c.remote, c.local)
			}
		}
	}
	if f := strings.Fields(os.Getenv("SSH_CONNECTION")); len(f) == 4 {
		client, err1 := netip.ParseAddr(f[0])
		server, err2 := netip.ParseAddr(f[2])
		if err1 == nil && err2 == nil && local[server.Unmap()] {
			peers[client.Unmap()] = "this ssh session (SSH_CONNECTION)"
		}
	}
	for peer, how := range peers {
		p, ok := l.covers(peer)
		if !ok {
			continue
		}
		if force {
			log.Warn("--force: dropping a peer this machine is reached from", "prefix", p, "peer", peer, "via", how)
			continue
		}
		return fmt.Errorf("drop list entry %s covers %s, the peer of %s on %s: dropping it may cut this machine off; use --force to drop it anyway", p, peer, how, ifi.Name)
	}
	return nil
}

type tcpConn struct{ local, remote netip.AddrPort }

// parseTCP returns the established connections of /proc/net/tcp or tcp6.
func parseTCP(b []byte) []tcpConn {
	var out []tcpConn
	for _, line := range bytes.Split(b, []byte("\n"))[1:] {
		f := strings.Fields(string(line))
		if len(f) < 4 || f[3] != "01" { // TCP_ESTABLISHED
			continue
		}
		l, ok1 := parseProcAddr(f[1])
		r, ok2 := parseProcAddr(f[2])
		if ok1 && ok2 {
			out = append(out, tcpConn{l, r})
		}
	}
	return out
}

// parseProcAddr parses "0100007F:0016": the address as 32-bit words in
// host (little-endian) order, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(a)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) || len(p) != 4 {
		return netip.AddrPort{}, false
	}
	port, err := hex.DecodeString(p)
	if err != nil {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), binary.BigEndian.Uint16(port)), true
}
