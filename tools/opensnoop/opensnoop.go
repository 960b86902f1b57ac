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

	"github.com/cilium/ebpf/asm"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

func init() {
	tools.Register(&Tool{About: tools.About{Cmd: "opensnoop", Short: "Trace open() syscalls (open, openat, openat2)",
		Example: `ebtools opensnoop                  # trace all open() syscalls
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
ebtools -d 10 opensnoop            # trace for 10 seconds only`}})
}

// Tool is the opensnoop subcommand. Flags binds a fresh config, which Run uses.
type Tool struct {
	tools.About
	cfg *config
}

type config struct {
	task     tools.TaskConfig
	failed   bool
	extended bool
	flagList cli.StringSlice
	flags    uint64
	rdonly   bool
	fullPath bool
	host     *fspath.Host // nil: this machine's mounts
}

// Flags implements tools.Tool.
func (t *Tool) Flags() []cli.Flag {
	t.cfg = &config{}
	c := t.cfg
	return append(append(c.task.TimeFlags(output.NoTime, "timestamp", "T", "", ""),
		&cli.BoolFlag{Name: "failed", Aliases: []string{"x"}, Destination: &c.failed, Usage: "only failed opens (in kernel)"},
		&cli.BoolFlag{Name: "extended-fields", Aliases: []string{"e"}, Destination: &c.extended, Usage: "include FLAGS (octal) and MODE columns"},
		&cli.StringSliceFlag{Name: "flag", Aliases: []string{"f"}, Destination: &c.flagList, Usage: "only opens with any of these `O_FLAG`s (repeatable) (in kernel)"},
		&cli.BoolFlag{Name: "full-path", Aliases: []string{"F"}, Destination: &c.fullPath, Usage: "print absolute paths, resolved against the dirfd or cwd"},
	), c.task.Flags(tools.Letters{TID: "t"})...)
}

// Program implements tools.Tool. Each call is traced at its exit alone,
// its arguments read from the saved user registers (per-arch objects for
// amd64 and arm64, the architectures ebtools builds for), where the kernel
// has bpf_task_pt_regs (5.15+); else at its entry and exit.
func (*Tool) Program() ebrt.Program {
	choices := func(enter, exitTP string) [][]string {
		return [][]string{{opensnoopProgOpenExitRegs + exitTP}, {enter, opensnoopProgOpenExit + exitTP}}
	}
	return ebrt.Program{
		Name: "opensnoop",
		Load: loadOpensnoop,
		Hooks: []ebrt.Hook{
			{Name: "openat", Choices: choices(opensnoopProgOpenatEnter, "")},
			// open(2) does not exist on arm64 and other new ports.
			{Name: "open", Optional: true, Choices: choices(opensnoopProgOpenEnter, "@syscalls/sys_exit_open")},
			// openat2(2) is new in 5.6.
			{Name: "openat2", Optional: true, Choices: choices(opensnoopProgOpenat2Enter, "@syscalls/sys_exit_openat2")},
		},
		Helpers: map[string][]asm.BuiltinFunc{opensnoopProgOpenExitRegs: {asm.FnTaskPtRegs}},
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

func (c *config) check() error {
	if err := c.task.Check(); err != nil {
		return err
	}
	c.flags, c.rdonly = 0, false
	for _, f := range c.flagList.Value() {
		v, ok := openFlags[strings.ToUpper(f)]
		if !ok {
			return tools.Usagef("-f/--flag %q: want one of %s", f, strings.Join(flagNames(), ", "))
		}
		if v == 0 {
			c.rdonly = true
		}
		c.flags |= v
	}
	return nil
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
func (c *config) constants() map[string]any {
	return map[string]any{
		opensnoopVarTargFailed:   c.failed,
		opensnoopVarTargFlags:    c.flags,
		opensnoopVarTargRdonly:   c.rdonly,
		opensnoopVarTargFullPath: c.fullPath,
	}
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, _ *cli.Context, env *tools.Env) error {
	if err := t.cfg.check(); err != nil {
		return err
	}
	return tools.RunEvents(ctx, env, t.cfg.events(t.Program()))
}
