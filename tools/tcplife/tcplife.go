// Package tcplife traces TCP session lifespans: one row per connection when
// it closes, with its addresses, ports, bytes sent and received, and how
// long it lived, for IPv4 and IPv6, as BCC's tcplife.
//
//	ebtools tcplife [-w] [-T|-t] [-s] [-p PID] [-L PORTS] [-D PORTS] [-4|-6] [-c CGROUP]
package tcplife

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

func init() {
	tools.Register(&Tool{About: tools.About{Cmd: "tcplife", Short: "Trace TCP session lifespans with bytes sent and received",
		Example: `ebtools tcplife                 # trace all TCP sessions
ebtools tcplife -T              # include time (HH:MM:SS)
ebtools tcplife -t              # include seconds since start
ebtools tcplife -w              # wide columns (fit IPv6 addresses)
ebtools tcplife -s              # comma-separated values
ebtools tcplife -p 181          # only PID 181
ebtools tcplife -L 80           # only local port 80
ebtools tcplife -L 80,81        # only local ports 80 and 81
ebtools tcplife -D 5432         # only remote port 5432
ebtools tcplife -4              # only IPv4
ebtools tcplife -6              # only IPv6
ebtools tcplife --unit nginx.service   # only sessions of this systemd unit
ebtools -o json tcplife         # JSON lines, bytes exact`}})
}

// Tool is the tcplife subcommand. Flags binds a fresh config, which Run uses.
type Tool struct {
	tools.About
	cfg *config
}

type config struct {
	task           tools.TaskConfig
	wide, csv      bool
	lport, rport   string
	lports, rports []uint16
	ipv4, ipv6     bool
	family         uint16
}

// Flags implements tools.Tool.
func (t *Tool) Flags() []cli.Flag {
	t.cfg = &config{}
	c := t.cfg
	return append(append(c.task.TimeFlags(output.NoTime, "time", "T", "timestamp", "t"),
		&cli.BoolFlag{Name: "wide", Aliases: []string{"w"}, Destination: &c.wide, Usage: "wide address columns (39, for IPv6)"},
		&cli.BoolFlag{Name: "csv", Aliases: []string{"s"}, Destination: &c.csv, Usage: "comma-separated values"},
		&cli.StringFlag{Name: "localport", Aliases: []string{"L"}, Destination: &c.lport, Usage: "only these local `PORTS` (comma-separated)"},
		&cli.StringFlag{Name: "remoteport", Aliases: []string{"D"}, Destination: &c.rport, Usage: "only these remote `PORTS` (comma-separated)"},
		&cli.BoolFlag{Name: "ipv4", Aliases: []string{"4"}, Destination: &c.ipv4, Usage: "trace IPv4 only"},
		&cli.BoolFlag{Name: "ipv6", Aliases: []string{"6"}, Destination: &c.ipv6, Usage: "trace IPv6 only"},
	), c.task.Flags(tools.Letters{})...)
}

// Program implements tools.Tool.
func (*Tool) Program() ebrt.Program {
	return ebrt.Program{
		Name: "tcplife",
		Load: loadTcplife,
		Hooks: []ebrt.Hook{{
			Name:    "inet_sock_set_state",
			Choices: [][]string{{tcplifeProgTcplifeBtf}, {tcplifeProgTcplifeTp}, {tcplifeProgTcplifeFentry}},
		}},
		Lost: evicted,
	}
}

// Address families (bpf/tcplife.bpf.c).
const (
	afInet  = 2
	afInet6 = 10
)

func (c *config) check() error {
	if err := c.task.Check(); err != nil {
		return err
	}
	switch {
	case c.ipv4 && c.ipv6:
		return tools.Usagef("-4/--ipv4 and -6/--ipv6 are exclusive")
	case c.ipv4:
		c.family = afInet
	case c.ipv6:
		c.family = afInet6
	}
	var err error
	if c.lports, err = parsePorts("localport", c.lport); err != nil {
		return err
	}
	c.rports, err = parsePorts("remoteport", c.rport)
	return err
}

// maxPorts is the size of the lports and rports maps.
const maxPorts = 1024

func parsePorts(flag, s string) ([]uint16, error) {
	if s == "" {
		return nil, nil
	}
	var ports []uint16
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || n == 0 {
			return nil, tools.Usagef("--%s %q: want comma-separated ports from 1 to 65535", flag, s)
		}
		ports = append(ports, uint16(n))
	}
	if len(ports) > maxPorts {
		return nil, tools.Usagef("--%s: at most %d ports", flag, maxPorts)
	}
	return ports, nil
}

// constants are the kernel-side filters (bpf/tcplife.bpf.c).
func (c *config) constants() map[string]any {
	return map[string]any{
		tcplifeVarTargFamily: c.family,
		tcplifeVarTargLports: len(c.lports) > 0,
		tcplifeVarTargRports: len(c.rports) > 0,
	}
}

// fillPorts puts the -L and -D ports into their maps.
func (c *config) fillPorts(coll *ebpf.Collection) error {
	for name, ports := range map[string][]uint16{tcplifeMapLports: c.lports, tcplifeMapRports: c.rports} {
		for _, p := range ports {
			if err := coll.Maps[name].Put(p, uint8(1)); err != nil {
				return fmt.Errorf("set port filter %d: %w", p, err)
			}
		}
	}
	return nil
}

// evicted counts sessions whose birth the LRU map evicted before they
// closed: births recorded, less those taken out at close, less those still
// in the map. Births are read before the map walk and closes after it, and
// the kernel side counts a close before it deletes the birth, so while
// tracing the result is a lower bound (it never counts a session that is
// closing as evicted, which the runtime could not take back); once
// detached it is exact.
func evicted(coll *ebpf.Collection) (uint64, error) {
	stats := coll.Maps[tcplifeMapBirthStats]
	sum := func(stat uint32) (uint64, error) {
		var perCPU []uint64
		if err := stats.Lookup(stat, &perCPU); err != nil {
			return 0, fmt.Errorf("read birth counters: %w", err)
		}
		var n uint64
		for _, v := range perCPU {
			n += v
		}
		return n, nil
	}
	births, err := sum(uint32(tcplifeTcplifeStatTCPLIFE_BIRTHS))
	if err != nil {
		return 0, err
	}
	var live uint64
	var k uint64
	var v [2]uint64 // struct birth
	it := coll.Maps[tcplifeMapBirth].Iterate()
	for it.Next(&k, &v) {
		live++
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("walk birth map: %w", err)
	}
	closed, err := sum(uint32(tcplifeTcplifeStatTCPLIFE_CLOSED))
	if err != nil {
		return 0, err
	}
	if births < closed+live {
		return 0, nil
	}
	return births - closed - live, nil
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, _ *cli.Context, env *tools.Env) error {
	c := t.cfg
	if err := c.check(); err != nil {
		return err
	}
	ev := c.events(t.Program())
	ev.Prepare = c.fillPorts
	return tools.RunEvents(ctx, env, ev)
}
