// Package ipcount counts packets and bytes per source address (IPv4 and
// IPv6) arriving on a network interface, with an XDP program that only
// observes, and prints the top talkers every interval.
//
//	ebtools ipcount [-i SECONDS] [-n TOP] [--sort packets|bytes] [--cumulative] IFACE
package ipcount

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

func init() { tools.Register(&Tool{}) }

// Tool is the ipcount subcommand.
type Tool struct{}

// Name implements tools.Tool.
func (*Tool) Name() string { return "ipcount" }

// Usage implements tools.Tool.
func (*Tool) Usage() string { return "Count packets and bytes per source IP on an interface (XDP)" }

// ArgsUsage implements tools.WithArgs.
func (*Tool) ArgsUsage() string { return "IFACE" }

// Examples implements tools.Tool.
func (*Tool) Examples() string {
	return `ebtools ipcount eth1                 # top 10 sources every 2 seconds
ebtools ipcount -i 1 -n 20 eth1      # top 20 every second
ebtools ipcount --sort bytes eth1    # top talkers by bytes
ebtools ipcount --cumulative eth1    # totals since start instead of rates
ebtools ipcount --mode generic eth1  # force generic (SKB) XDP
ebtools -o json -d 60 ipcount eth1   # one JSON object per interval, for a minute`
}

// Flags implements tools.Tool.
func (*Tool) Flags() []cli.Flag {
	return []cli.Flag{
		&cli.Float64Flag{Name: "interval", Aliases: []string{"i"}, Value: 2, Usage: "print every `SECONDS`"},
		&cli.IntFlag{Name: "top", Aliases: []string{"n"}, Value: 10, Usage: "print the top `N` sources"},
		&cli.StringFlag{Name: "sort", Value: "packets", Usage: "rank sources by packets or bytes"},
		&cli.BoolFlag{Name: "cumulative", Usage: "totals since start instead of per-interval counts"},
		&cli.IntFlag{Name: "max-entries", Value: 65536, Usage: "sources tracked at once (LRU: the least recent are evicted)"},
		&cli.StringFlag{Name: "mode", Value: ebrt.XDPAuto, Usage: "XDP mode: auto, native or generic"},
	}
}

// Program implements tools.Tool.
func (*Tool) Program() ebrt.Program {
	return ebrt.Program{
		Name:     "ipcount",
		Load:     loadIpcount,
		Hooks:    []ebrt.Hook{{Name: "xdp", Choices: [][]string{{ipcountProgIpcount}}}},
		NetAdmin: true,
	}
}

type config struct {
	iface      string
	interval   time.Duration
	top        int
	byBytes    bool
	cumulative bool
	maxEntries uint32
	mode       string
}

func parseConfig(c *cli.Context) (config, error) {
	cfg := config{
		interval:   time.Duration(c.Float64("interval") * float64(time.Second)),
		top:        c.Int("top"),
		cumulative: c.Bool("cumulative"),
		mode:       c.String("mode"),
	}
	if c.NArg() != 1 {
		return cfg, tools.Usagef("want one interface name, as in: ebtools ipcount eth1")
	}
	cfg.iface = c.Args().First()
	if cfg.interval < 10*time.Millisecond {
		return cfg, tools.Usagef("-i/--interval %v: want at least 0.01 seconds", c.Float64("interval"))
	}
	if cfg.top < 1 {
		return cfg, tools.Usagef("-n/--top %d: want at least 1", cfg.top)
	}
	switch c.String("sort") {
	case "packets":
	case "bytes":
		cfg.byBytes = true
	default:
		return cfg, tools.Usagef("--sort %q: want packets or bytes", c.String("sort"))
	}
	if n := c.Int("max-entries"); n < 1 || n > 1<<24 {
		return cfg, tools.Usagef("--max-entries %d: want 1 to %d", n, 1<<24)
	} else {
		cfg.maxEntries = uint32(n)
	}
	switch cfg.mode {
	case ebrt.XDPAuto, ebrt.XDPNative, ebrt.XDPGeneric:
	default:
		return cfg, tools.Usagef("--mode %q: want auto, native or generic", cfg.mode)
	}
	return cfg, nil
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, c *cli.Context, env *tools.Env) error {
	cfg, err := parseConfig(c)
	if err != nil {
		return err
	}
	opts := env.Runtime(nil, "")
	opts.Interface, opts.XDPMode = cfg.iface, cfg.mode
	opts.MapSizes = map[string]uint32{ipcountMapSources: cfg.maxEntries}
	s, err := ebrt.Start(ctx, t.Program(), opts)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := env.Traced(ctx)
	defer cancel()
	r := newReporter(cfg, env, s.Map(ipcountMapFast), s.Map(ipcountMapSources), s.Map(ipcountMapTotals))
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.report(true)
		case <-tick.C:
			if err := r.report(false); err != nil {
				return err
			}
		}
	}
}
