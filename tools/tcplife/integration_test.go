package tcplife

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ebtools/ebtools/internal/testutil"
	ebrt "github.com/ebtools/ebtools/runtime"
)

// server accepts on addr; per connection it reads 1000 bytes, answers 5000
// and closes. The client side (session) sends 1000, reads to EOF, closes.
func server(t *testing.T, network, addr string) (port int, stop func()) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reply := make([]byte, 5000)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1000)
			if _, err := io.ReadFull(c, buf); err == nil {
				c.Write(reply)
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, func() { ln.Close(); wg.Wait() }
}

func session(t *testing.T, network, addr string) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != 5000 {
		t.Fatalf("session read %d bytes: %v", n, err)
	}
	c.Close()
}

type jsonEvent struct {
	PID          int
	Comm, Family string
	LAddr, RAddr string
	LPort, RPort int
	TxBytes      uint64 `json:"tx_bytes"`
	RxBytes      uint64 `json:"rx_bytes"`
	DurationNs   uint64 `json:"duration_ns"`
}

func decode(t *testing.T, l string) jsonEvent {
	t.Helper()
	var e jsonEvent
	if err := json.Unmarshal([]byte(l), &e); err != nil {
		t.Fatalf("invalid JSON %q: %v", l, err)
	}
	return e
}

// TestThousands is the acceptance load: 2,000 loopback sessions, both rows
// of each, bytes exact, nothing lost; then the same over ::1 with -6.
func TestThousands(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, tt := range []struct {
		network, host, flag, family string
		n                           int
	}{
		{"tcp4", "127.0.0.1", "-4", "ipv4", 2000},
		{"tcp6", "::1", "-6", "ipv6", 500},
	} {
		t.Run(tt.family, func(t *testing.T) {
			port, stop := server(t, tt.network, net.JoinHostPort(tt.host, "0"))
			defer stop()
			addr := net.JoinHostPort(tt.host, strconv.Itoa(port))
			p := testutil.Start(t, "-o", "json", "tcplife", tt.flag, "-p", strconv.Itoa(os.Getpid()))
			for i := 0; i < tt.n; i++ {
				session(t, tt.network, addr)
			}
			clients, servers := 0, 0
			for clients+servers < 2*tt.n {
				e := decode(t, p.WaitLine(t, func(string) bool { return true }))
				switch {
				case e.PID != os.Getpid() || e.Family != tt.family || e.LAddr != tt.host || e.RAddr != tt.host:
					t.Fatalf("unexpected row %+v", e)
				case e.RPort == port && e.TxBytes == 1000 && e.RxBytes == 5000:
					clients++
				case e.LPort == port && e.TxBytes == 5000 && e.RxBytes == 1000:
					servers++
				default:
					t.Fatalf("row with wrong ports or bytes: %+v", e)
				}
				if e.DurationNs == 0 || e.DurationNs > uint64(10*time.Second) {
					t.Errorf("implausible duration %d ns", e.DurationNs)
				}
			}
			if _, code := p.Stop(t, syscall.SIGTERM); code != 0 || !strings.Contains(p.Stderr(), "lost=0") {
				t.Errorf("exit %d, stderr:\n%s", code, p.Stderr())
			}
			if clients != tt.n || servers != tt.n {
				t.Errorf("client rows %d, server rows %d, want %d each", clients, servers, tt.n)
			}
		})
	}
}

// TestFilters checks -4/-6 and -L/-D against sessions on two ports.
func TestFilters(t *testing.T) {
	testutil.RequirePrivileged(t)
	port1, stop1 := server(t, "tcp4", "127.0.0.1:0")
	defer stop1()
	port2, stop2 := server(t, "tcp4", "127.0.0.1:0")
	defer stop2()
	// [::1] may get a port 127.0.0.1 already has (the addresses differ,
	// so both binds succeed): the IPv6 session's rows would then pass -D
	// and -L meant for an IPv4 port.
	port6, stop6 := server(t, "tcp6", "[::1]:0")
	for port6 == port1 || port6 == port2 {
		stop6()
		port6, stop6 = server(t, "tcp6", "[::1]:0")
	}
	defer stop6()
	p1, p2, p6 := strconv.Itoa(port1), strconv.Itoa(port2), strconv.Itoa(port6)
	me := strconv.Itoa(os.Getpid())

	for _, tt := range []struct {
		name  string
		flags []string
		want  []string // "lport>rport" of the rows, in any order
	}{
		{"-L", []string{"-L", p1}, []string{p1 + ">c"}},
		{"-D", []string{"-D", p2 + "," + p1}, []string{"c>" + p1, "c>" + p2}},
		{"-4 hides IPv6", []string{"-4"}, []string{p1 + ">c", "c>" + p1, p2 + ">c", "c>" + p2}},
		{"-6 shows only IPv6", []string{"-6"}, []string{p6 + ">c", "c>" + p6}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testutil.Start(t, append([]string{"-o", "json", "tcplife", "-p", me}, tt.flags...)...)
			session(t, "tcp4", "127.0.0.1:"+p1)
			session(t, "tcp4", "127.0.0.1:"+p2)
			session(t, "tcp6", "[::1]:"+p6)
			// On loopback both ends are closed when session returns, and
			// SIGTERM drains every row already sent.
			rows, _ := p.Stop(t, syscall.SIGTERM)
			var got []string
			for _, l := range rows {
				e := decode(t, l)
				lp, rp := strconv.Itoa(e.LPort), strconv.Itoa(e.RPort)
				if e.LPort != port1 && e.LPort != port2 && e.LPort != port6 {
					lp = "c"
				}
				if e.RPort != port1 && e.RPort != port2 && e.RPort != port6 {
					rp = "c"
				}
				got = append(got, lp+">"+rp)
			}
			// The two rows of a session come in either order: when the
			// passive closer's FIN reaches the active closer while its
			// socket is locked, the ACK it then sends can close the
			// passive side before the active side enters TIME_WAIT.
			want := slices.Sorted(slices.Values(tt.want))
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Errorf("rows %v, want %v", got, want)
			}
		})
	}
}

// TestGrepLatency: `ebtools tcplife | grep 5432` sees a session's row
// within a second of its close.
func TestGrepLatency(t *testing.T) {
	testutil.RequirePrivileged(t)
	port, stop := server(t, "tcp4", "127.0.0.1:0")
	defer stop()
	p := testutil.Start(t, "tcplife", "-D", strconv.Itoa(port))
	session(t, "tcp4", "127.0.0.1:"+strconv.Itoa(port))
	closed := time.Now()
	p.WaitLine(t, func(l string) bool { return strings.Contains(l, " "+strconv.Itoa(port)+" ") })
	took := time.Since(closed)
	t.Logf("close to row: %v", took)
	if limit := testutil.Scaled(time.Second); took > limit {
		t.Errorf("row took %v, want under %v", took, limit)
	}
}

type counter struct{ n int }

func (c *counter) Event([]byte) error { c.n++; return nil }
func (c *counter) Flush() error       { return nil }

// startSession loads prog (tcplife's, perhaps changed) with cfg's
// constants and ports, hands the collection to seen if set, and attaches
// it; the session is closed when the test ends.
func startSession(t *testing.T, prog ebrt.Program, cfg *config, seen func(*ebpf.Collection)) *ebrt.Session {
	t.Helper()
	consts := cfg.task.Constants(false)
	for k, v := range cfg.constants() {
		consts[k] = v
	}
	prepare := func(coll *ebpf.Collection) error {
		if seen != nil {
			seen(coll)
		}
		return cfg.fillPorts(coll)
	}
	s, err := ebrt.Start(context.Background(), prog, ebrt.Options{Constants: consts, Prepare: prepare})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEvictions shrinks the birth map to 16 entries and keeps 64 sessions
// open at once: the sessions whose birth was evicted are counted as lost,
// and delivered + lost covers every session.
func TestEvictions(t *testing.T) {
	testutil.RequirePrivileged(t)
	prog := (&Tool{}).Program()
	load := prog.Load
	prog.Load = func() (*ebpf.CollectionSpec, error) {
		spec, err := load()
		if err == nil {
			spec.Maps[tcplifeMapBirth].MaxEntries = 16
		}
		return spec, err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg, err := parse(t, "-L", strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	s := startSession(t, prog, cfg, nil)

	const n = 64
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		a, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c, a)
	}
	// On loopback, close completes both ends' state changes before it returns.
	for _, c := range conns {
		c.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := &counter{}
	if err := s.Run(ctx, h); err != nil {
		t.Fatal(err)
	}
	t.Logf("server-side sessions: %d delivered, %d counted lost", h.n, s.Lost())
	if s.Lost() == 0 || h.n+int(s.Lost()) != n {
		t.Errorf("delivered %d + lost %d, want %d with some lost", h.n, s.Lost(), n)
	}
}

// TestLostWhileClosing: the evicted-session count, which the runtime reads
// while tracing and cannot take back, never counts a session that is
// closing as it reads. Sessions open and close on one CPU while the count
// is read as fast as it can be on the other. The birth map holds 16,384 and
// only a few are live at once, so nothing is evicted: every read must be 0.
func TestLostWhileClosing(t *testing.T) {
	testutil.RequirePrivileged(t)
	port, stop := server(t, "tcp4", "127.0.0.1:0")
	defer stop()
	cfg, err := parse(t, "-4")
	if err != nil {
		t.Fatal(err)
	}
	var coll *ebpf.Collection
	s := startSession(t, (&Tool{}).Program(), cfg, func(c *ebpf.Collection) { coll = c })
	ctx, cancel := context.WithCancel(context.Background())
	h := &counter{}
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx, h) }()
	// Also on a failed session: the run ends before the session closes.
	stopRun := sync.OnceValue(func() error { cancel(); return <-ran })
	defer stopRun()

	quit, done := make(chan struct{}), make(chan struct{})
	var reads, aborted, worst uint64
	var readErr error
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			n, err := evicted(coll)
			switch {
			case errors.Is(err, ebpf.ErrIterationAborted):
				aborted++ // the walk met too many deletions: no count
			case err != nil:
				readErr = err
				return
			default:
				reads++
				worst = max(worst, n)
			}
		}
	}()
	stopReads := sync.OnceFunc(func() { close(quit); <-done })
	defer stopReads()
	n := testutil.Sized(3000)
	for i := 0; i < n; i++ {
		session(t, "tcp4", "127.0.0.1:"+strconv.Itoa(port))
	}
	stopReads()
	if err := stopRun(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d sessions; %d reads of the evicted count while they closed (%d walks cut short)", n, reads, aborted)
	if readErr != nil {
		t.Fatalf("read the evicted count: %v", readErr)
	}
	if reads == 0 {
		t.Fatal("no read of the evicted count completed while sessions closed")
	}
	if worst != 0 || s.Lost() != 0 {
		t.Errorf("evicted count read as %d while sessions closed, %d lost in the end; want 0: nothing was evicted", worst, s.Lost())
	}
	if h.n < 2*n {
		t.Errorf("%d rows, want at least %d (both ends of %d sessions)", h.n, 2*n, n)
	}
}

// TestForcedPaths runs tcplife once per attach path EBTOOLS_FORCE selects,
// and checks the path the runtime took on this kernel: fentry where fentry
// programs load and attach (amd64 6.1), tp_btf where they do not load (this
// 6.18 build refuses them) or load but do not attach (arm64 before 6.4).
func TestForcedPaths(t *testing.T) {
	testutil.RequirePrivileged(t)
	doctor, err := exec.Command(testutil.Binary(t), "doctor").Output()
	if err != nil {
		t.Fatal(err)
	}
	fentryOK := regexp.MustCompile(`(?m)^fentry\s+yes`).Match(doctor)
	port, stop := server(t, "tcp4", "127.0.0.1:0")
	defer stop()
	p := strconv.Itoa(port)
	kprobeMethod := map[bool]string{true: "fentry", false: "tp_btf"}[fentryOK]
	for _, tt := range []struct {
		force, method, perfbuf string
	}{
		{"", "tp_btf", "false"},
		{"perfbuf", "tp_btf", "true"},
		{"tracepoint", "tracepoint", "false"},
		{"kprobe", kprobeMethod, "false"},
	} {
		t.Run("EBTOOLS_FORCE="+tt.force, func(t *testing.T) {
			cmd := exec.Command(testutil.Binary(t), "--log-level", "debug", "tcplife", "-D", p)
			cmd.Env = append(os.Environ(), "EBTOOLS_FORCE="+tt.force)
			proc := testutil.StartCmd(t, cmd)
			stderr := proc.Stderr()
			if !strings.Contains(stderr, "method="+tt.method+" ") || !strings.Contains(stderr, "perfbuf="+tt.perfbuf) {
				t.Fatalf("want method=%s perfbuf=%s; stderr:\n%s", tt.method, tt.perfbuf, stderr)
			}
			session(t, "tcp4", "127.0.0.1:"+p)
			proc.WaitLine(t, func(l string) bool { return strings.Contains(l, " "+p+" ") })
			t.Logf("EBTOOLS_FORCE=%s: attached with %s (perfbuf %s); fentry works here: %v", tt.force, tt.method, tt.perfbuf, fentryOK)
		})
	}
}
