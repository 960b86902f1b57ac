// Package execsnoop traces new processes: every execve(2) and execveat(2)
// with its arguments as the new program sees them, the executable the
// kernel ran, its result, parent and comm, as BCC's execsnoop.
//
//	ebtools execsnoop [-x] [-e] [-T|-t] [-U] [-p PID] [-P PPID] [-u UID] [-c CGROUP]
package execsnoop

import (
	"context"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

func init() {
	tools.Register(&Tool{About: tools.About{Cmd: "execsnoop", Short: "Trace new processes (execve and execveat)",
		Example: `ebtools execsnoop                  # trace all exec()s
ebtools execsnoop -x               # include failed exec()s
ebtools execsnoop -e               # include the executable the kernel ran (EXE)
ebtools execsnoop -T               # include time (HH:MM:SS)
ebtools execsnoop -U               # include UID
ebtools execsnoop -u 1000          # only trace UID 1000
ebtools execsnoop -p 1234 -P 1     # only PID 1234, or children of PID 1
ebtools execsnoop --tree 1234      # only PID 1234 and its descendants
ebtools execsnoop -q               # put "quotemarks" around arguments
ebtools execsnoop -n main          # only commands whose name contains "main"
ebtools execsnoop -l tpkg          # only commands whose arguments contain "tpkg"
ebtools execsnoop -c /sys/fs/cgroup/system.slice   # only this cgroup v2
ebtools -o json execsnoop | jq .args   # JSON lines`}})
}

// Tool is the execsnoop subcommand. Flags binds a fresh config, which Run uses.
type Tool struct {
	tools.About
	cfg *config
}

const (
	defaultMaxArgs = 20
	// maxMaxArgs: every argument of the 32 KiB kept is at least its NUL.
	maxMaxArgs = 16384
)

type config struct {
	task    tools.TaskConfig
	fails   bool
	quote   bool
	exe     bool
	line    string
	lineB   []byte
	maxArgs uint
	host    *fspath.Host // nil: this machine's mounts
}

// Flags implements tools.Tool.
func (t *Tool) Flags() []cli.Flag {
	t.cfg = &config{}
	c := t.cfg
	return append(append(c.task.TimeFlags(output.NoTime, "time", "T", "timestamp", "t"),
		&cli.BoolFlag{Name: "fails", Aliases: []string{"x"}, Destination: &c.fails, Usage: "include failed exec()s"},
		&cli.BoolFlag{Name: "exe", Aliases: []string{"e"}, Destination: &c.exe, Usage: "include an EXE column: the file the kernel ran (symlinks resolved; the interpreter of a script)"},
		&cli.BoolFlag{Name: "quote", Aliases: []string{"q"}, Destination: &c.quote, Usage: `add "quotemarks" around arguments`},
		&cli.StringFlag{Name: "line", Aliases: []string{"l"}, Destination: &c.line, Usage: "only print commands whose arguments contain `LINE`"},
		&cli.UintFlag{Name: "max-args", Value: defaultMaxArgs, Destination: &c.maxArgs, Usage: "maximum number of arguments printed (1-16384); more are shown as ..."},
	), c.task.Flags(tools.Letters{PPID: "P"})...)
}

func (c *config) check() error {
	if err := c.task.Check(); err != nil {
		return err
	}
	if c.maxArgs < 1 || c.maxArgs > maxMaxArgs {
		return tools.Usagef("--max-args %d: want 1 to %d", c.maxArgs, maxMaxArgs)
	}
	c.lineB = nil
	if c.line != "" {
		c.lineB = []byte(c.line)
	}
	return nil
}

// Program implements tools.Tool.
func (*Tool) Program() ebrt.Program {
	return ebrt.Program{
		Name: "execsnoop",
		Load: loadExecsnoop,
		Hooks: []ebrt.Hook{
			// Successful execs, from the new image.
			{Name: "sched_process_exec", Choices: [][]string{{execsnoopProgExecBtf}, {execsnoopProgExecRaw}}},
			{Name: "execve", Choices: [][]string{{execsnoopProgExecveEnter, execsnoopProgExecExit}}},
			// fexecve(3) and friends; the syscall exists since 3.19.
			{Name: "execveat", Optional: true, Choices: [][]string{{execsnoopProgExecveatEnter, execsnoopProgExecExit + "@syscalls/sys_exit_execveat"}}},
		},
	}
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, _ *cli.Context, env *tools.Env) error {
	c := t.cfg
	if err := c.check(); err != nil {
		return err
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return err
	}
	ev := c.events(t.Program())
	ev.MapSizes = map[string]uint32{execsnoopMapRecords: uint32(cpus)}
	return tools.RunEvents(ctx, env, ev)
}
