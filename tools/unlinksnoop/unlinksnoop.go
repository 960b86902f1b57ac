// Package unlinksnoop answers "who deleted my file?": every unlink(2),
// unlinkat(2) and rmdir(2) with its result, the process and its parent, and
// the absolute path resolved against the dirfd or cwd the call used.
//
//	ebtools unlinksnoop [-x] [-p PID] [-u UID] [-n NAME] [--path PREFIX] [-c CGROUP]
package unlinksnoop

import (
	"bytes"
	"context"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

func init() { tools.Register(&Tool{}) }

// Tool is the unlinksnoop subcommand.
type Tool struct{}

// Name implements tools.Tool.
func (*Tool) Name() string { return "unlinksnoop" }

// Usage implements tools.Tool.
func (*Tool) Usage() string { return "Trace file and directory deletions, with absolute paths" }

// Examples implements tools.Tool.
func (*Tool) Examples() string {
	return `ebtools unlinksnoop                        # trace every unlink, unlinkat and rmdir
ebtools unlinksnoop | grep myapp.log       # who deletes my log file?
ebtools unlinksnoop --path /var/lib/mysql  # only deletions under this directory
ebtools unlinksnoop -x                     # only failed deletions
ebtools unlinksnoop -p 1234 -u 1000        # only PID 1234 / UID 1000
ebtools unlinksnoop -c /sys/fs/cgroup/system.slice/cron.service   # only this cgroup v2
ebtools -o json unlinksnoop                # JSON lines, with the raw argument and dirfd`
}

// Flags implements tools.Tool.
func (*Tool) Flags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
		&cli.StringFlag{Name: "uid", Aliases: []string{"u"}, Usage: "trace this `UID` (number or user name) only"},
		&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only processes whose name contains `NAME`"},
		&cli.BoolFlag{Name: "failed", Aliases: []string{"x"}, Usage: "only failed deletions"},
		&cli.StringFlag{Name: "path", Usage: "only paths under `PREFIX` (matched on the absolute path)"},
		&cli.StringFlag{Name: "cgroup", Aliases: []string{"c"}, Usage: "trace processes in this cgroup v2 `PATH` only"},
		&cli.BoolFlag{Name: "time", Aliases: []string{"T"}, Usage: "TIME column as HH:MM:SS (the default)"},
		&cli.BoolFlag{Name: "timestamp", Aliases: []string{"t"}, Usage: "TIME column as seconds since start instead"},
	}
}

// Program implements tools.Tool.
func (*Tool) Program() ebrt.Program {
	return ebrt.Program{
		Name: "unlinksnoop",
		Load: loadUnlinksnoop,
		Hooks: []ebrt.Hook{
			{Name: "unlinkat", Choices: [][]string{{unlinksnoopProgUnlinkatEnter, unlinksnoopProgUnlinkExit}}},
			// The old calls do not exist on arm64 and other new ports.
			{Name: "unlink", Optional: true, Choices: [][]string{{unlinksnoopProgUnlinkEnter, unlinksnoopProgUnlinkExit + "@syscalls/sys_exit_unlink"}}},
			{Name: "rmdir", Optional: true, Choices: [][]string{{unlinksnoopProgRmdirEnter, unlinksnoopProgUnlinkExit + "@syscalls/sys_exit_rmdir"}}},
		},
	}
}

type config struct {
	pid    uint32
	uid    uint32
	name   []byte
	failed bool
	prefix []byte // absolute, without a trailing slash (but "/")
	cgroup string
	time   output.TimeColumn
}

func parseConfig(c *cli.Context) (config, error) {
	cfg := config{uid: tools.NoUID, failed: c.Bool("failed"), cgroup: c.String("cgroup"), time: output.ClockTime}
	if c.Bool("time") && c.Bool("timestamp") {
		return cfg, tools.Usagef("-T/--time and -t/--timestamp are exclusive")
	}
	if c.Bool("timestamp") {
		cfg.time = output.RelativeTime
	}
	var err error
	if cfg.pid, err = tools.PositiveID(c, "pid"); err != nil {
		return cfg, err
	}
	if s := c.String("uid"); s != "" {
		if cfg.uid, err = tools.ParseUID(s); err != nil {
			return cfg, err
		}
	}
	if s := c.String("name"); s != "" {
		cfg.name = []byte(s)
	}
	if s := c.String("path"); s != "" {
		abs, err := filepath.Abs(s)
		if err != nil {
			return cfg, tools.Usagef("--path %q: %v", s, err)
		}
		cfg.prefix = []byte(abs)
	}
	return cfg, nil
}

// under reports whether path is prefix or inside it.
func under(path, prefix []byte) bool {
	if len(prefix) == 1 { // "/"
		return len(path) > 0 && path[0] == '/'
	}
	return bytes.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// constants are the kernel-side filters (bpf/unlinksnoop.bpf.c).
func (cfg config) constants() map[string]any {
	return map[string]any{
		unlinksnoopVarTargPid:    cfg.pid,
		unlinksnoopVarTargUid:    cfg.uid,
		unlinksnoopVarTargFailed: cfg.failed,
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
