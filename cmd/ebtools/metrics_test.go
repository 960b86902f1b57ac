package main

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// TestMetricsScraped: execsnoop, tcplife and ipcount, each with --metrics
// and -o none, scraped every 100 ms by a real Prometheus server (a direct
// scrape in the test-kernels guests, see newQuerier) while the test makes
// known activity; Prometheus's HTTP API must give the exact counts: 1,000
// execs of a workload, 2,000 TCP sessions, and 100, 200 and 300 packets
// from three sources. Each endpoint passes promtool check metrics.
func TestMetricsScraped(t *testing.T) {
	testutil.RequirePrivileged(t)
	// execsnoop: the children of a workload that execs itself 1,000 times.
	const nExecs = 1000
	execs := startFleet(t, "exec", strconv.Itoa(nExecs))
	execP, execURL := startMetrics(t, "-o", "none", "execsnoop", "-P", strconv.Itoa(execs.pid()))
	// tcplife: 2,000 sessions to a listener of this test, its side (-L).
	const nSessions, payload = 2000, 100
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	tcpP, tcpURL := startMetrics(t, "-o", "none", "tcplife", "-L", port)
	// ipcount: three sources on a veth pair whose far end sends nothing else.
	v := quietVeth(t, "10.204.0.1")
	sources := map[string]int{"10.204.0.2": 100, "10.204.0.3": 200, "10.204.0.4": 300}
	for src := range sources {
		testutil.IP(t, "-n", v.NS, "addr", "add", src+"/24", "dev", v.Peer)
	}
	testutil.IP(t, "-n", v.NS, "neigh", "replace", "10.204.0.1", "lladdr", v.HostMAC.String(), "dev", v.Peer, "nud", "permanent")
	ipP, ipURL := startMetrics(t, "-o", "none", "ipcount", "-i", "0.2", "--metrics-top", "5", v.Host)

	var targets []string
	for _, u := range []string{execURL, tcpURL, ipURL} {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, pu.Host)
	}
	q := newQuerier(t, targets)
	checks := &sumChecks{q: q}
	for _, tool := range []string{"execsnoop", "tcplife", "ipcount"} {
		checks.waitFor(t, "ebtools_up", map[string]string{"tool": tool}, 1)
	}

	execs.run(t)
	tcpSessions(t, ln, nSessions, payload)
	total := 0
	for src, n := range sources {
		sendUDPFrom(t, v.NS, src, "10.204.0.1", n)
		total += n
	}

	checks.waitFor(t, "ebtools_execsnoop_execs_total", map[string]string{"result": "ok"}, nExecs)
	checks.waitFor(t, "ebtools_tcplife_sessions_total", map[string]string{"family": "ipv4"}, nSessions)
	checks.waitFor(t, "ebtools_tcplife_bytes_total", map[string]string{"direction": "rx"}, nSessions*payload)
	checks.waitFor(t, "ebtools_tcplife_bytes_total", map[string]string{"direction": "tx"}, 0)
	checks.waitFor(t, "ebtools_tcplife_session_duration_seconds_count", nil, nSessions)
	for src, n := range sources {
		checks.waitFor(t, "ebtools_ipcount_source_packets_total", map[string]string{"source": src, "verdict": "pass"}, float64(n))
		checks.waitFor(t, "ebtools_ipcount_source_bytes_total", map[string]string{"source": src, "verdict": "pass"}, float64(n*udpFrameLen))
	}
	// The top sources and other add up to the exact IPv4 and IPv6 totals.
	checks.waitFor(t, "ebtools_ipcount_source_packets_total", map[string]string{"verdict": "pass"}, float64(total))
	checks.waitFor(t, "ebtools_ipcount_packets_total", map[string]string{"family": "ipv4", "verdict": "pass"}, float64(total))
	checks.waitFor(t, "ebtools_ipcount_packets_total", map[string]string{"family": "ipv6"}, 0)
	checks.waitFor(t, "ebtools_events_lost_total", nil, 0)
	checks.settled(t)
	if n, _ := q.sum(t, "ebtools_events_total", map[string]string{"tool": "execsnoop"}); n < nExecs {
		t.Errorf("ebtools_events_total{tool=\"execsnoop\"} = %v, want at least %d", n, nExecs)
	}
	if _, ok := q.sum(t, "ebtools_build_info", map[string]string{"version": buildVersionOf(t)}); !ok {
		t.Errorf("no ebtools_build_info{version=%q}", buildVersionOf(t))
	}

	for _, u := range []string{execURL, tcpURL, ipURL} {
		checkMetrics(t, scrape(t, u))
	}
	for _, p := range []*testutil.Proc{execP, tcpP, ipP} {
		if _, code := p.Stop(t, unix.SIGTERM); code != 0 {
			t.Errorf("%v: exit %d\n%s", p.Cmd.Args, code, p.Stderr())
		}
	}
}

// udpFrameLen is what sendUDPFrom's datagrams are on the wire: Ethernet,
// IPv4, UDP and its 15 bytes of payload.
const udpFrameLen = 14 + 20 + 8 + len("least privilege")

// quietVeth returns a veth pair whose far end has IPv6 off (no router
// solicitations or MLD reports arrive), with addr/24 on the near end.
func quietVeth(t *testing.T, addr string) *testutil.Veth {
	t.Helper()
	v := testutil.NewVeth(t)
	testutil.IP(t, "-n", v.NS, "link", "set", v.Peer, "down")
	if out, err := exec.Command("ip", "netns", "exec", v.NS, "sysctl", "-qw", "net.ipv6.conf."+v.Peer+".disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("disable IPv6: %v %s", err, out)
	}
	testutil.IP(t, "-n", v.NS, "link", "set", v.Peer, "up")
	testutil.IP(t, "addr", "add", addr+"/24", "dev", v.Host)
	return v
}

// tcpSessions makes n TCP sessions to ln, each sending payload bytes to
// it; the client closes first.
func tcpSessions(t *testing.T, ln net.Listener, n, payload int) {
	t.Helper()
	data := bytes.Repeat([]byte{'x'}, payload)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got, err := io.ReadAll(s); err != nil || len(got) != payload {
			t.Fatalf("session %d: read %d bytes, %v", i, len(got), err)
		}
		s.Close()
	}
}

// buildVersionOf returns the version the ebtools binary prints.
func buildVersionOf(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(testutil.Binary(t), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.TrimPrefix(string(out), "ebtools version "))
}

// checkMetrics fails t unless the exposition passes client_golang's
// linter and, where it is installed, promtool check metrics (the same
// rules, as Prometheus ships them).
func checkMetrics(t *testing.T, text string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", err, problems)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		return // newQuerier fails outside a test-kernels guest without prometheus
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
