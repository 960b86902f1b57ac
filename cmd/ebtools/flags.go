package main

import (
	"net"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

// globalFlags are accepted before the tool name and after it alike; each
// call returns new flag values, as urfave/cli keeps state in them.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output format: text, json (one object per line) or none (no events: for --metrics)"},
		&cli.StringFlag{Name: "output-file", Usage: "append events to `PATH` instead of stdout; reopened on SIGHUP (after logrotate renamed it)", TakesFile: true},
		&cli.Float64Flag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `SECONDS` of tracing (counted once attached)"},
		&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log level on stderr: trace, debug, info, warn, error, off ($EBTOOLS_LOG_LEVEL)"},
		&cli.StringFlag{Name: "btf", Usage: "BTF file for kernels without /sys/kernel/btf/vmlinux", TakesFile: true},
		&cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics at http://`ADDR`/metrics while the tool runs (host:port, e.g. 127.0.0.1:9435; port 0 picks one, logged at info)"},
		&cli.IntFlag{Name: "metrics-max-groups", Value: metrics.DefaultGroups, Usage: "series of a tool's own metrics for at most `N` (unit, container_id) pairs (1 to 10000); " +
			"events of more count under unit=\"other\", container_id=\"other\", and a pair idle for 10 minutes makes room"},
		&cli.IntFlag{Name: "metrics-max-values", Value: metrics.DefaultValues, Usage: "series for at most `N` combinations of a metric's own label values, such as result (1 to 10000); more count as \"other\""},
	}
}

// metricsFlags are the global flags that only a tool uses (not doctor).
var metricsFlags = []string{"output-file", "metrics", "metrics-max-groups", "metrics-max-values"}

// Bounds of -d/--duration in seconds: a millisecond (less would round to
// "no limit"), and about 31 years, far below time.Duration's limit.
const (
	minDuration = 0.001
	maxDuration = 1e9
)

type globals struct {
	format      output.Format
	duration    time.Duration
	logLevel    hclog.Level
	btfPath     string
	outputFile  string
	metricsAddr string
	limits      metrics.Limits
}

// lookup returns the innermost context where flag name was given, so a
// global flag after the tool name wins over one before it.
func lookup(c *cli.Context, name string) *cli.Context {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) {
			return cc
		}
	}
	return nil
}

func parseGlobals(c *cli.Context) (globals, error) {
	g := globals{logLevel: hclog.Warn}
	var err error
	format := "text"
	if cc := lookup(c, "output"); cc != nil {
		format = cc.String("output")
	}
	if g.format, err = output.ParseFormat(format); err != nil {
		return g, tools.Usagef("-o/--output: %v", err)
	}
	if cc := lookup(c, "duration"); cc != nil {
		if g.duration, err = tools.Seconds(cc, "duration", minDuration, maxDuration); err != nil {
			return g, err
		}
	}
	level := os.Getenv("EBTOOLS_LOG_LEVEL")
	if cc := lookup(c, "log-level"); cc != nil {
		level = cc.String("log-level")
	}
	if level != "" {
		if g.logLevel, err = parseLevel(level); err != nil {
			return g, err
		}
	}
	if cc := lookup(c, "btf"); cc != nil {
		g.btfPath = cc.String("btf")
	}
	if cc := lookup(c, "output-file"); cc != nil {
		if g.outputFile = cc.String("output-file"); g.outputFile == "" {
			return g, tools.Usagef("--output-file: want a file name")
		}
	}
	if cc := lookup(c, "metrics"); cc != nil {
		g.metricsAddr = cc.String("metrics")
		if _, _, err := net.SplitHostPort(g.metricsAddr); err != nil {
			return g, tools.Usagef("--metrics %q: want host:port, such as 127.0.0.1:9435 or :9435", g.metricsAddr)
		}
	}
	g.limits = metrics.Limits{Groups: metrics.DefaultGroups, Values: metrics.DefaultValues}
	for _, l := range []struct {
		name string
		v    *int
	}{{"metrics-max-groups", &g.limits.Groups}, {"metrics-max-values", &g.limits.Values}} {
		if cc := lookup(c, l.name); cc != nil {
			if *l.v, err = tools.IntRange(cc, l.name, 1, 10000); err != nil {
				return g, err
			}
		}
	}
	return g, nil
}

func parseLevel(s string) (hclog.Level, error) {
	l := hclog.LevelFromString(s)
	if l == hclog.NoLevel || strings.EqualFold(s, "nolevel") {
		return l, tools.Usagef("--log-level %q: want trace, debug, info, warn, error or off", s)
	}
	return l, nil
}
