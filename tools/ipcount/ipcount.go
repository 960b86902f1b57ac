// Package ipcount counts packets and bytes per source address (IPv4 and
// IPv6), prefix or source and port, arriving on a network interface, with an
// XDP program, prints the top talkers every interval, and on request drops
// sources on a list or above a rate.
//
//	ebtools ipcount [-i SECONDS] [-n TOP] [--prefix4 LEN] [--by proto|dport] [--drop CIDR] [--rate-limit PPS] IFACE
package ipcount

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

func init() {
	tools.Register(&Tool{About: tools.About{Cmd: "ipcount", Short: "Count packets and bytes per source IP on an interface, optionally drop (XDP)",
		Example: `ebtools ipcount eth1                        # top 10 sources every 2 seconds
ebtools ipcount -i 1 -n 20 eth1             # top 20 every second
ebtools ipcount --prefix4 24 --prefix6 48 eth1   # per network
ebtools ipcount --by dport eth1             # per source and destination port
ebtools ipcount --drop 203.0.113.0/24 eth1  # drop a network, count the rest
ebtools ipcount --drop-file block.txt eth1  # drop list reread on SIGHUP
ebtools ipcount --rate-limit 1000 eth1      # drop what a source sends past 1000 packets/s
ebtools ipcount --dry-run --rate-limit 1000 eth1  # show what would be dropped
ebtools -o json -d 60 ipcount eth1          # JSON rows every interval, for a minute`}})
}

// Tool is the ipcount subcommand. Flags binds fresh rawFlags, which Run
// checks and converts into a config.
type Tool struct {
	tools.About
	// OnReport, if set before Run, receives every interval's report and
	// the report since start (for a metrics exporter). It must not keep
	// them past its return.
	OnReport func(interval, sinceStart *Report)
	flags    *rawFlags
}

// ArgsUsage implements tools.WithArgs.
func (*Tool) ArgsUsage() string { return "IFACE" }

// rawFlags are the flags as given; parseConfig checks and converts them.
type rawFlags struct {
	interval   float64
	top        int
	sort       string
	cumulative bool
	maxEntries int
	prefix4    int
	prefix6    int
	by         string
	drop       cli.StringSlice
	dropFile   string
	rateLimit  int
	dryRun     bool
	force      bool
	mode       string
	metricsTop int
}

// Flags implements tools.Tool.
func (t *Tool) Flags() []cli.Flag {
	t.flags = &rawFlags{}
	f := t.flags
	return []cli.Flag{
		&cli.Float64Flag{Name: "interval", Aliases: []string{"i"}, Value: 2, Destination: &f.interval, Usage: "print every `SECONDS` (0.01 to 86400)"},
		&cli.IntFlag{Name: "top", Aliases: []string{"n"}, Value: 10, Destination: &f.top, Usage: "print the top `N` rows (1 to 100000)"},
		&cli.StringFlag{Name: "sort", Value: "packets", Destination: &f.sort, Usage: "rank rows by packets or bytes (passed and dropped)"},
		&cli.BoolFlag{Name: "cumulative", Destination: &f.cumulative, Usage: "counts since start instead of per interval"},
		&cli.IntFlag{Name: "max-entries", Value: 4096, Destination: &f.maxEntries, Usage: "table slots per interval and CPU, `N` (64 to 1048576, rounded up to a power of two); a full table keeps the biggest sources, the rest count in OTHER"},
		&cli.IntFlag{Name: "prefix4", Value: 32, Destination: &f.prefix4, Usage: "count IPv4 sources by network of `LEN` bits (0 to 32)"},
		&cli.IntFlag{Name: "prefix6", Value: 128, Destination: &f.prefix6, Usage: "count IPv6 sources by network of `LEN` bits (0 to 128)"},
		&cli.StringFlag{Name: "by", Destination: &f.by, Usage: "also break rows down by `proto` (IP protocol) or dport (protocol and TCP/UDP destination port)"},
		&cli.StringSliceFlag{Name: "drop", Destination: &f.drop, Usage: "drop packets from `CIDR` (repeatable; IPv4 or IPv6 prefix or address)"},
		&cli.StringFlag{Name: "drop-file", Destination: &f.dropFile, Usage: "drop packets from the prefixes in `PATH` (one per line, # comments), reread on SIGHUP"},
		&cli.IntFlag{Name: "rate-limit", Destination: &f.rateLimit, Usage: "drop what a source (or prefix) sends past `PPS` packets in each one-second window (fixed window from its first packet; a burst of PPS passes at once); 0: off"},
		&cli.BoolFlag{Name: "dry-run", Destination: &f.dryRun, Usage: "drop nothing; count and show what --drop/--rate-limit would drop"},
		&cli.BoolFlag{Name: "force", Destination: &f.force, Usage: "drop even if the list covers a peer this machine is reached from on IFACE"},
		&cli.StringFlag{Name: "mode", Value: ebrt.XDPAuto, Destination: &f.mode, Usage: "XDP mode: auto, native or generic"},
		&cli.IntFlag{Name: "metrics-top", Value: 10, Destination: &f.metricsTop, Usage: "with --metrics, series per source for at most `N` sources (1 to 1000, and at most -n): the top of each interval; the others count in source=\"other\""},
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

// Breakdowns of --by.
const (
	bySource = iota
	byProto
	byDport
)

type config struct {
	iface      string
	interval   time.Duration
	top        int
	byBytes    bool
	cumulative bool
	slotBits   uint32
	prefix4    int
	prefix6    int
	by         uint32
	drop       []string
	dropFile   string
	rateLimit  uint64
	dryRun     bool
	force      bool
	mode       string
	metricsTop int
}

// dropping reports whether anything may be dropped (or would be).
func (c *config) dropping() bool {
	return len(c.drop) > 0 || c.dropFile != "" || c.rateLimit > 0
}

func intIn(name string, n, lo, hi int) (int, error) {
	if n < lo || n > hi {
		return 0, tools.Usagef("--%s %d: want %d to %d", name, n, lo, hi)
	}
	return n, nil
}

// parseConfig checks the flags f and the positional args, and converts
// them into a config.
func parseConfig(f *rawFlags, args []string) (config, error) {
	cfg := config{
		cumulative: f.cumulative,
		mode:       f.mode,
		drop:       f.drop.Value(),
		dropFile:   f.dropFile,
		dryRun:     f.dryRun,
		force:      f.force,
	}
	if len(args) != 1 {
		return cfg, tools.Usagef("want one interface name, as in: ebtools ipcount eth1")
	}
	cfg.iface = args[0]
	secs := f.interval
	if math.IsNaN(secs) || secs < 0.01 || secs > 86400 {
		return cfg, tools.Usagef("-i/--interval %v: want 0.01 to 86400 seconds", secs)
	}
	cfg.interval = time.Duration(secs * float64(time.Second))
	var err error
	if cfg.top, err = intIn("top", f.top, 1, 100000); err != nil {
		return cfg, err
	}
	switch f.sort {
	case "packets":
	case "bytes":
		cfg.byBytes = true
	default:
		return cfg, tools.Usagef("--sort %q: want packets or bytes", f.sort)
	}
	n, err := intIn("max-entries", f.maxEntries, 64, 1<<20)
	if err != nil {
		return cfg, err
	}
	cfg.slotBits = uint32(bits.Len(uint(n - 1)))
	if cfg.metricsTop, err = intIn("metrics-top", f.metricsTop, 1, 1000); err != nil {
		return cfg, err
	}
	if cfg.prefix4, err = intIn("prefix4", f.prefix4, 0, 32); err != nil {
		return cfg, err
	}
	if cfg.prefix6, err = intIn("prefix6", f.prefix6, 0, 128); err != nil {
		return cfg, err
	}
	switch f.by {
	case "":
	case "proto":
		cfg.by = byProto
	case "dport":
		cfg.by = byDport
	default:
		return cfg, tools.Usagef("--by %q: want proto or dport", f.by)
	}
	rl, err := intIn("rate-limit", f.rateLimit, 0, math.MaxUint32)
	if err != nil {
		return cfg, err
	}
	cfg.rateLimit = uint64(rl)
	if cfg.dryRun && !cfg.dropping() {
		return cfg, tools.Usagef("--dry-run: nothing to drop without --drop, --drop-file or --rate-limit")
	}
	switch cfg.mode {
	case ebrt.XDPAuto, ebrt.XDPNative, ebrt.XDPGeneric:
	default:
		return cfg, tools.Usagef("--mode %q: want auto, native or generic", cfg.mode)
	}
	return cfg, nil
}

// mask returns the 16-byte mask of a prefix of n bits of an IPv6 address
// (IPv4: of its v4-mapped form, n counted from bit 96) as two words in
// memory order, as the program compares them.
func mask(n int) (w0, w1 uint64) {
	var m [16]byte
	for i := 0; i < n; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return binary.LittleEndian.Uint64(m[:8]), binary.LittleEndian.Uint64(m[8:])
}

// Bits of targ_keys: what keys hold besides the source address.
const (
	keysPrefix4 = 1 << iota
	keysPrefix6
	keysBy
)

// constants returns the program's settings for cfg, and the first value of
// now: a random first epoch (it seeds the hash), in the table's first half.
func (cfg *config) constants() (map[string]any, error) {
	var seed [4]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("read random seed: %w", err)
	}
	_, m4 := mask(96 + cfg.prefix4)
	m60, m61 := mask(cfg.prefix6)
	var keys uint32
	if cfg.prefix4 < 32 {
		keys |= keysPrefix4
	}
	if cfg.prefix6 < 128 {
		keys |= keysPrefix6
	}
	if cfg.by != bySource {
		keys |= keysBy
	}
	return map[string]any{
		"targ_slot_bits":  cfg.slotBits,
		"targ_slot_shift": 64 - cfg.slotBits,
		"targ_mask4":      m4,
		"targ_mask6_0":    m60,
		"targ_mask6_1":    m61,
		"targ_by":         cfg.by,
		"targ_keys":       keys,
		"targ_drop":       len(cfg.drop) > 0 || cfg.dropFile != "",
		"targ_dry_run":    cfg.dryRun,
		"targ_rate_limit": cfg.rateLimit,
		"now":             nowWord(max(binary.LittleEndian.Uint32(seed[:]), 1), 0),
	}, nil
}

// mapSizes sizes the slots for --max-entries, and the rate windows down to
// one entry when there is no --rate-limit (an LRU map is preallocated).
func (cfg *config) mapSizes() map[string]uint32 {
	m := map[string]uint32{ipcountMapSlots: 2 << cfg.slotBits}
	if cfg.rateLimit == 0 {
		m[ipcountMapRates] = 1
	}
	return m
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, c *cli.Context, env *tools.Env) error {
	cfg, err := parseConfig(t.flags, c.Args().Slice())
	if err != nil {
		return err
	}
	list, err := cfg.loadList()
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(cfg.iface)
	if err != nil {
		return fmt.Errorf("attach XDP: no network interface %q", cfg.iface)
	}
	if err := list.checkReach(ifi, cfg.force, env.Log); err != nil {
		return err
	}
	if cfg.dropping() {
		// The first line on stderr: what will be dropped, where.
		env.Log.Warn(cfg.announce(list))
	}
	consts, err := cfg.constants()
	if err != nil {
		return err
	}
	var tab *table
	opts := env.Runtime(consts, "")
	opts.Interface, opts.XDPMode = cfg.iface, cfg.mode
	opts.MapSizes = cfg.mapSizes()
	opts.Prepare = func(coll *ebpf.Collection) error {
		var err error
		if tab, err = newTable(coll, cfg.slotBits, cfg.prefix4, cfg.prefix6); err != nil {
			return err
		}
		return tab.setList(list)
	}
	s, err := ebrt.Start(ctx, t.Program(), opts)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := env.Traced(ctx)
	defer cancel()
	hup := make(chan os.Signal, 1)
	if cfg.dropFile != "" {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	r := newReporter(cfg, env, tab)
	r.onReport = t.OnReport
	if env.Metrics != nil {
		x := newExporter(env.Metrics, cfg, min(cfg.metricsTop, cfg.top))
		r.onReport = func(iv, all *Report) {
			x.add(iv)
			if t.OnReport != nil {
				t.OnReport(iv, all)
			}
		}
	}
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.report(true)
		case <-hup:
			t.reload(&cfg, tab, ifi, env)
		case <-tick.C:
			if err := r.report(false); err != nil {
				return err
			}
			if err := stillThere(ifi); err != nil {
				return err
			}
		}
	}
}

// reload rereads --drop-file; a bad file leaves the list in force.
func (t *Tool) reload(cfg *config, tab *table, ifi *net.Interface, env *tools.Env) {
	list, err := cfg.loadList()
	if err == nil {
		err = list.checkReach(ifi, cfg.force, env.Log)
	}
	if err == nil {
		err = tab.setList(list)
	}
	if err != nil {
		env.Log.Error("drop list not reloaded, the previous one stays in force", "error", strings.TrimPrefix(err.Error(), tools.ErrUsage.Error()+": "))
		return
	}
	env.Log.Warn("drop list reloaded", "file", cfg.dropFile, "prefixes", list.len(), "interface", cfg.iface)
}

// stillThere fails once the interface ipcount is attached to is deleted
// (the kernel has then detached the program).
func stillThere(ifi *net.Interface) error {
	cur, err := net.InterfaceByIndex(ifi.Index)
	if err != nil || cur.Name != ifi.Name {
		return fmt.Errorf("interface %s is gone", ifi.Name)
	}
	return nil
}

// announce says what will be dropped (or would be, with --dry-run).
func (cfg *config) announce(l *dropList) string {
	var what []string
	if n := l.len(); n > 0 || cfg.dropFile != "" {
		what = append(what, fmt.Sprintf("packets from %d listed prefixes (%s)", n, l.summary(3)))
	}
	if cfg.rateLimit > 0 {
		unit := "source"
		if cfg.prefix4 < 32 || cfg.prefix6 < 128 {
			unit = fmt.Sprintf("/%d or /%d network", cfg.prefix4, cfg.prefix6)
		}
		what = append(what, fmt.Sprintf("what each %s sends past %d packets in a second", unit, cfg.rateLimit))
	}
	verb := "dropping"
	if cfg.dryRun {
		verb = "dry run, nothing dropped; would drop"
	}
	return fmt.Sprintf("%s on %s: %s", verb, cfg.iface, strings.Join(what, ", and "))
}
