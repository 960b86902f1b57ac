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

func init() { tools.Register(&Tool{}) }

// Tool is the tcplife subcommand.
type Tool struct{}

// Name implements tools.Tool.
func (*Tool) Name() string { return "tcplife" }

// Usage implements tools.Tool.
func (*Tool) Usage() string { return "Trace TCP session lifespans with bytes sent and received" }

// Examples implements tools.Tool.
func (*Tool) Examples() string {
	return `ebtools tcplife                 # trace all TCP sessions
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
ebtools -o json tcplife         # JSON lines, bytes exact`
}

// Flags implements tools.Tool.
func (*Tool) Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "time", Aliases: []string{"T"}, Usage: "include a time column (HH:MM:SS)"},
		&cli.BoolFlag{Name: "timestamp", Aliases: []string{"t"}, Usage: "include a column of seconds since start"},
		&cli.BoolFlag{Name: "wide", Aliases: []string{"w"}, Usage: "wide address columns (39, for IPv6)"},
		&cli.BoolFlag{Name: "csv", Aliases: []string{"s"}, Usage: "comma-separated values"},
		&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
		&cli.StringFlag{Name: "localport", Aliases: []string{"L"}, Usage: "only these local `PORTS` (comma-separated)"},
		&cli.StringFlag{Name: "remoteport", Aliases: []string{"D"}, Usage: "only these remote `PORTS` (comma-separated)"},
		&cli.BoolFlag{Name: "ipv4", Aliases: []string{"4"}, Usage: "trace IPv4 only"},
		&cli.BoolFlag{Name: "ipv6", Aliases: []string{"6"}, Usage: "trace IPv6 only"},
		&cli.StringFlag{Name: "cgroup", Aliases: []string{"c"}, Usage: "trace processes in this cgroup v2 `PATH` only"},
	}
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

type config struct {
	time           output.TimeColumn
	wide, csv      bool
	pid            uint32
	lports, rports []uint16
	family         uint16
	cgroup         string
}

func parseConfig(c *cli.Context) (config, error) {
	cfg := config{wide: c.Bool("wide"), csv: c.Bool("csv"), cgroup: c.String("cgroup")}
	switch {
	case c.Bool("time") && c.Bool("timestamp"):
		return cfg, tools.Usagef("-T/--time and -t/--timestamp are exclusive")
	case c.Bool("time"):
		cfg.time = output.ClockTime
	case c.Bool("timestamp"):
		cfg.time = output.RelativeTime
	}
	switch {
	case c.Bool("ipv4") && c.Bool("ipv6"):
		return cfg, tools.Usagef("-4/--ipv4 and -6/--ipv6 are exclusive")
	case c.Bool("ipv4"):
		cfg.family = afInet
	case c.Bool("ipv6"):
		cfg.family = afInet6
	}
	var err error
	if cfg.pid, err = tools.PositiveID(c, "pid"); err != nil {
		return cfg, err
	}
	if cfg.lports, err = parsePorts("localport", c.String("localport")); err != nil {
		return cfg, err
	}
	if cfg.rports, err = parsePorts("remoteport", c.String("remoteport")); err != nil {
		return cfg, err
	}
	return cfg, nil
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
func (cfg config) constants() map[string]any {
	return map[string]any{
		tcplifeVarTargPid:    cfg.pid,
		tcplifeVarTargFamily: cfg.family,
		tcplifeVarTargLports: len(cfg.lports) > 0,
		tcplifeVarTargRports: len(cfg.rports) > 0,
	}
}

// fillPorts puts the -L and -D ports into their maps.
func (cfg config) fillPorts(coll *ebpf.Collection) error {
	for name, ports := range map[string][]uint16{tcplifeMapLports: cfg.lports, tcplifeMapRports: cfg.rports} {
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
// in the map. Births are read before the map walk and closes after it, so
// while tracing the result is a lower bound; once detached it is exact.
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
	births, err := sum(0) // TCPLIFE_BIRTHS
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
	closed, err := sum(1) // TCPLIFE_CLOSED
	if err != nil {
		return 0, err
	}
	if births < closed+live {
		return 0, nil
	}
	return births - closed - live, nil
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, c *cli.Context, env *tools.Env) error {
	cfg, err := parseConfig(c)
	if err != nil {
		return err
	}
	opts := env.Runtime(cfg.constants(), cfg.cgroup)
	opts.Prepare = cfg.fillPorts
	h := newHandler(cfg, env.Format, env.Out, output.NewClock())
	return tools.Stream(ctx, env, t.Program(), opts, h)
}
