// Package execsnoop traces new processes: every execve(2) and execveat(2)
// with its arguments, result, parent and comm, as BCC's execsnoop.
//
//	ebtools execsnoop [-x] [-T|-t] [-U] [-p PID] [-P PPID] [-u UID] [-c CGROUP]
package execsnoop

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

func init() { tools.Register(&Tool{}) }

// Tool is the execsnoop subcommand.
type Tool struct{}

// Name implements tools.Tool.
func (*Tool) Name() string { return "execsnoop" }

// Usage implements tools.Tool.
func (*Tool) Usage() string { return "Trace new processes (execve and execveat)" }

// Examples implements tools.Tool.
func (*Tool) Examples() string {
	return `ebtools execsnoop                  # trace all exec()s
ebtools execsnoop -x               # include failed exec()s
ebtools execsnoop -T               # include time (HH:MM:SS)
ebtools execsnoop -U               # include UID
ebtools execsnoop -u 1000          # only trace UID 1000
ebtools execsnoop -p 1234 -P 1     # only PID 1234, or children of PID 1
ebtools execsnoop -q               # put "quotemarks" around arguments
ebtools execsnoop -n main          # only commands whose name contains "main"
ebtools execsnoop -l tpkg          # only commands whose arguments contain "tpkg"
ebtools execsnoop -c /sys/fs/cgroup/system.slice   # only this cgroup v2
ebtools -o json execsnoop | jq .args   # JSON lines`
}

const (
	defaultMaxArgs = 20
	maxMaxArgs     = 60 // EXECSNOOP_MAX_ARGS in bpf/execsnoop.h
)

// Flags implements tools.Tool.
func (*Tool) Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "time", Aliases: []string{"T"}, Usage: "include a time column (HH:MM:SS)"},
		&cli.BoolFlag{Name: "timestamp", Aliases: []string{"t"}, Usage: "include a column of seconds since start"},
		&cli.BoolFlag{Name: "fails", Aliases: []string{"x"}, Usage: "include failed exec()s"},
		&cli.StringFlag{Name: "uid", Aliases: []string{"u"}, Usage: "trace this UID (number or user name) only"},
		&cli.BoolFlag{Name: "quote", Aliases: []string{"q"}, Usage: `add "quotemarks" around arguments`},
		&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only print commands whose name contains `NAME`"},
		&cli.StringFlag{Name: "line", Aliases: []string{"l"}, Usage: "only print commands whose arguments contain `LINE`"},
		&cli.BoolFlag{Name: "print-uid", Aliases: []string{"U"}, Usage: "include a UID column"},
		&cli.IntFlag{Name: "max-args", Value: defaultMaxArgs, Usage: "maximum number of arguments captured and printed (1-60)"},
		&cli.StringFlag{Name: "cgroup", Aliases: []string{"c"}, Usage: "trace processes in this cgroup v2 `PATH` only"},
		&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
		&cli.IntFlag{Name: "ppid", Aliases: []string{"P"}, Usage: "trace children of this `PPID` only"},
	}
}

// Program implements tools.Tool.
func (*Tool) Program() ebrt.Program {
	return ebrt.Program{
		Name: "execsnoop",
		Load: loadExecsnoop,
		Hooks: []ebrt.Hook{
			{Name: "execve", Choices: [][]string{{execsnoopProgExecveEnter, execsnoopProgExecveExit}}},
			// fexecve(3) and friends; the syscall exists since 3.19.
			{Name: "execveat", Optional: true, Choices: [][]string{{execsnoopProgExecveatEnter, execsnoopProgExecveatExit}}},
		},
	}
}

type config struct {
	time      output.TimeColumn
	fails     bool
	uid       uint32
	quote     bool
	name      []byte
	line      []byte
	printUID  bool
	maxArgs   int
	cgroup    string
	pid, ppid uint32
}

func parseConfig(c *cli.Context) (config, error) {
	cfg := config{
		fails:    c.Bool("fails"),
		uid:      tools.NoUID,
		quote:    c.Bool("quote"),
		printUID: c.Bool("print-uid"),
		maxArgs:  c.Int("max-args"),
		cgroup:   c.String("cgroup"),
	}
	switch {
	case c.Bool("time") && c.Bool("timestamp"):
		return cfg, tools.Usagef("-T/--time and -t/--timestamp are exclusive")
	case c.Bool("time"):
		cfg.time = output.ClockTime
	case c.Bool("timestamp"):
		cfg.time = output.RelativeTime
	}
	if s := c.String("name"); s != "" {
		cfg.name = []byte(s)
	}
	if s := c.String("line"); s != "" {
		cfg.line = []byte(s)
	}
	if cfg.maxArgs < 1 || cfg.maxArgs > maxMaxArgs {
		return cfg, tools.Usagef("--max-args %d: want 1 to %d", cfg.maxArgs, maxMaxArgs)
	}
	var err error
	if s := c.String("uid"); s != "" {
		if cfg.uid, err = tools.ParseUID(s); err != nil {
			return cfg, err
		}
	}
	if cfg.pid, err = tools.PositiveID(c, "pid"); err != nil {
		return cfg, err
	}
	if cfg.ppid, err = tools.PositiveID(c, "ppid"); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// constants are the kernel-side filters (bpf/execsnoop.bpf.c).
func (cfg config) constants() map[string]any {
	return map[string]any{
		execsnoopVarTargPid:     cfg.pid,
		execsnoopVarTargPpid:    cfg.ppid,
		execsnoopVarTargUid:     cfg.uid,
		execsnoopVarTargFailed:  cfg.fails,
		execsnoopVarTargMaxArgs: uint32(cfg.maxArgs),
	}
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, c *cli.Context, env *tools.Env) error {
	cfg, err := parseConfig(c)
	if err != nil {
		return err
	}
	h := newHandler(cfg, env.Format, env.Out, output.NewClock())
	return tools.Stream(ctx, env, t.Program(), env.Runtime(cfg.constants(), cfg.cgroup), h)
}
