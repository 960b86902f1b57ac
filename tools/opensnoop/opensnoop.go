// Package opensnoop traces file opens: open(2), openat(2) and openat2(2),
// with the fd or error, and with -F the absolute path resolved against the
// dirfd or cwd the call used, as libbpf-tools' opensnoop (which resolves
// only against the cwd).
//
//	ebtools opensnoop [-x] [-F] [-e] [-p PID] [-t TID] [-u UID] [-f O_FLAG]... [-c CGROUP]
package opensnoop

import (
	"context"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

func init() { tools.Register(&Tool{}) }

// Tool is the opensnoop subcommand.
type Tool struct{}

// Name implements tools.Tool.
func (*Tool) Name() string { return "opensnoop" }

// Usage implements tools.Tool.
func (*Tool) Usage() string { return "Trace open() syscalls (open, openat, openat2)" }

// Examples implements tools.Tool.
func (*Tool) Examples() string {
	return `ebtools opensnoop                  # trace all open() syscalls
ebtools opensnoop -T               # include time (HH:MM:SS)
ebtools opensnoop -U               # include UID
ebtools opensnoop -x               # only failed opens
ebtools opensnoop -F               # absolute paths, resolved against dirfd or cwd
ebtools opensnoop -p 181           # only PID 181
ebtools opensnoop -t 123           # only TID 123
ebtools opensnoop -u 1000          # only UID 1000
ebtools opensnoop -n main          # only process names containing "main"
ebtools opensnoop -e               # show extended fields (FLAGS, MODE)
ebtools opensnoop -f O_WRONLY -f O_RDWR   # only opens with any of these flags
ebtools opensnoop -c /sys/fs/cgroup/system.slice   # only this cgroup v2
ebtools -d 10 opensnoop            # trace for 10 seconds only`
}

// Flags implements tools.Tool.
func (*Tool) Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "timestamp", Aliases: []string{"T"}, Usage: "include a time column (HH:MM:SS)"},
		&cli.BoolFlag{Name: "print-uid", Aliases: []string{"U"}, Usage: "include a UID column"},
		&cli.BoolFlag{Name: "failed", Aliases: []string{"x"}, Usage: "only failed opens"},
		&cli.IntFlag{Name: "pid", Aliases: []string{"p"}, Usage: "trace this `PID` only"},
		&cli.IntFlag{Name: "tid", Aliases: []string{"t"}, Usage: "trace this `TID` only"},
		&cli.StringFlag{Name: "uid", Aliases: []string{"u"}, Usage: "trace this `UID` (number or user name) only"},
		&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only processes whose name contains `NAME`"},
		&cli.BoolFlag{Name: "extended-fields", Aliases: []string{"e"}, Usage: "include FLAGS (octal) and MODE columns"},
		&cli.StringSliceFlag{Name: "flag", Aliases: []string{"f"}, Usage: "only opens with any of these `O_FLAG`s (repeatable)"},
		&cli.BoolFlag{Name: "full-path", Aliases: []string{"F"}, Usage: "print absolute paths, resolved against the dirfd or cwd"},
		&cli.StringFlag{Name: "cgroup", Aliases: []string{"c"}, Usage: "trace processes in this cgroup v2 `PATH` only"},
	}
}

// Program implements tools.Tool.
func (*Tool) Program() ebrt.Program {
	return ebrt.Program{
		Name: "opensnoop",
		Load: loadOpensnoop,
		Hooks: []ebrt.Hook{
			{Name: "openat", Choices: [][]string{{opensnoopProgOpenatEnter, opensnoopProgOpenExit}}},
			// open(2) does not exist on arm64 and other new ports.
			{Name: "open", Optional: true, Choices: [][]string{{opensnoopProgOpenEnter, opensnoopProgOpenExit + "@syscalls/sys_exit_open"}}},
			// openat2(2) is new in 5.6.
			{Name: "openat2", Optional: true, Choices: [][]string{{opensnoopProgOpenat2Enter, opensnoopProgOpenExit + "@syscalls/sys_exit_openat2"}}},
		},
	}
}

// openFlags are the -f names; O_RDONLY (0) is matched on the access mode.
var openFlags = map[string]uint64{
	"O_RDONLY": 0, "O_WRONLY": unix.O_WRONLY, "O_RDWR": unix.O_RDWR,
	"O_CREAT": unix.O_CREAT, "O_EXCL": unix.O_EXCL, "O_NOCTTY": unix.O_NOCTTY,
	"O_TRUNC": unix.O_TRUNC, "O_APPEND": unix.O_APPEND, "O_NONBLOCK": unix.O_NONBLOCK,
	"O_DSYNC": unix.O_DSYNC, "O_SYNC": unix.O_SYNC, "O_DIRECT": unix.O_DIRECT,
	"O_LARGEFILE": unix.O_LARGEFILE, "O_DIRECTORY": unix.O_DIRECTORY,
	"O_NOFOLLOW": unix.O_NOFOLLOW, "O_NOATIME": unix.O_NOATIME, "O_CLOEXEC": unix.O_CLOEXEC,
	"O_PATH": unix.O_PATH, "O_TMPFILE": unix.O_TMPFILE,
}

type config struct {
	time     output.TimeColumn
	printUID bool
	failed   bool
	pid, tid uint32
	uid      uint32
	name     []byte
	extended bool
	flags    uint64
	rdonly   bool
	fullPath bool
	cgroup   string
}

func parseConfig(c *cli.Context) (config, error) {
	cfg := config{
		printUID: c.Bool("print-uid"),
		failed:   c.Bool("failed"),
		uid:      tools.NoUID,
		extended: c.Bool("extended-fields"),
		fullPath: c.Bool("full-path"),
		cgroup:   c.String("cgroup"),
	}
	if c.Bool("timestamp") {
		cfg.time = output.ClockTime
	}
	var err error
	if cfg.pid, err = tools.PositiveID(c, "pid"); err != nil {
		return cfg, err
	}
	if cfg.tid, err = tools.PositiveID(c, "tid"); err != nil {
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
	for _, f := range c.StringSlice("flag") {
		v, ok := openFlags[strings.ToUpper(f)]
		if !ok {
			return cfg, tools.Usagef("-f/--flag %q: want one of %s", f, strings.Join(flagNames(), ", "))
		}
		if v == 0 {
			cfg.rdonly = true
		}
		cfg.flags |= v
	}
	return cfg, nil
}

func flagNames() []string {
	names := make([]string, 0, len(openFlags))
	for n := range openFlags {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// constants are the kernel-side filters (bpf/opensnoop.bpf.c).
func (cfg config) constants() map[string]any {
	return map[string]any{
		opensnoopVarTargPid:      cfg.pid,
		opensnoopVarTargTid:      cfg.tid,
		opensnoopVarTargUid:      cfg.uid,
		opensnoopVarTargFailed:   cfg.failed,
		opensnoopVarTargFlags:    cfg.flags,
		opensnoopVarTargRdonly:   cfg.rdonly,
		opensnoopVarTargFullPath: cfg.fullPath,
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
