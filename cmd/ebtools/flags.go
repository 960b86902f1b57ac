package main

import (
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

// globalFlags are accepted before the tool name and after it alike; each
// call returns new flag values, as urfave/cli keeps state in them.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "output format: text or json (one object per line)"},
		&cli.Float64Flag{Name: "duration", Aliases: []string{"d"}, Usage: "stop after `SECONDS` of tracing (counted once attached)"},
		&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "log level on stderr: trace, debug, info, warn, error, off ($EBTOOLS_LOG_LEVEL)"},
		&cli.StringFlag{Name: "btf", Usage: "BTF file for kernels without /sys/kernel/btf/vmlinux", TakesFile: true},
	}
}

// Bounds of -d/--duration in seconds: a millisecond (less would round to
// "no limit"), and about 31 years, far below time.Duration's limit.
const (
	minDuration = 0.001
	maxDuration = 1e9
)

type globals struct {
	format   output.Format
	duration time.Duration
	logLevel hclog.Level
	btfPath  string
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
	return g, nil
}

func parseLevel(s string) (hclog.Level, error) {
	l := hclog.LevelFromString(s)
	if l == hclog.NoLevel || strings.EqualFold(s, "nolevel") {
		return l, tools.Usagef("--log-level %q: want trace, debug, info, warn, error or off", s)
	}
	return l, nil
}
