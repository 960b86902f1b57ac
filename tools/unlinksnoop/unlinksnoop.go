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
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

func init() {
	tools.Register(&Tool{About: tools.About{Cmd: "unlinksnoop", Short: "Trace file and directory deletions, with absolute paths",
		Example: `ebtools unlinksnoop                        # trace every unlink, unlinkat and rmdir
ebtools unlinksnoop | grep myapp.log       # who deletes my log file?
ebtools unlinksnoop --path /var/lib/mysql  # only deletions under this directory
ebtools unlinksnoop -x                     # only failed deletions
ebtools unlinksnoop -p 1234 -u 1000        # only PID 1234 / UID 1000
ebtools unlinksnoop -c /sys/fs/cgroup/system.slice/cron.service   # only this cgroup v2
ebtools -o json unlinksnoop                # JSON lines, with the raw argument and dirfd`}})
}

// Tool is the unlinksnoop subcommand. Flags binds a fresh config, which Run uses.
type Tool struct {
	tools.About
	cfg *config
}

type config struct {
	task   tools.TaskConfig
	failed bool
	path   string
	prefix []byte // absolute, without a trailing slash (but "/")
	paths  map[string]any
	host   *fspath.Host // nil: this machine's mounts
}

// Flags implements tools.Tool.
func (t *Tool) Flags() []cli.Flag {
	t.cfg = &config{}
	c := t.cfg
	return append(append(c.task.TimeFlags(output.ClockTime, "time", "T", "timestamp", "t"),
		&cli.BoolFlag{Name: "failed", Aliases: []string{"x"}, Destination: &c.failed, Usage: "only failed deletions (in kernel)"},
		&cli.StringFlag{Name: "path", Destination: &c.path, Usage: "only paths under `PREFIX` (matched on the absolute path)"},
	), c.task.Flags(tools.Letters{})...)
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
			{Name: "rename", Optional: true, Choices: [][]string{{unlinksnoopProgRenameEnter, unlinksnoopProgUnlinkExit + "@syscalls/sys_exit_rename"}}},
			{Name: "renameat", Optional: true, Choices: [][]string{{unlinksnoopProgRenameatEnter, unlinksnoopProgUnlinkExit + "@syscalls/sys_exit_renameat"}}},
			// renameat2(2) is new in 3.15.
			{Name: "renameat2", Optional: true, Choices: [][]string{{unlinksnoopProgRenameat2Enter, unlinksnoopProgUnlinkExit + "@syscalls/sys_exit_renameat2"}}},
		},
	}
}

func (c *config) check() error {
	if err := c.task.Check(); err != nil {
		return err
	}
	c.prefix = nil
	if c.path != "" {
		abs, err := filepath.Abs(c.path)
		if err != nil {
			return tools.Usagef("--path %q: %v", c.path, err)
		}
		c.prefix = []byte(abs)
	}
	var err error
	if c.paths, err = fspath.Constants(c.path); err != nil {
		return tools.Usagef("--path: %v", err)
	}
	return nil
}

// under reports whether path is prefix or inside it.
func under(path, prefix []byte) bool {
	if len(prefix) == 1 { // "/"
		return len(path) > 0 && path[0] == '/'
	}
	return bytes.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// constants are the kernel-side filters (bpf/unlinksnoop.bpf.c).
func (c *config) constants() map[string]any {
	consts := map[string]any{unlinksnoopVarTargFailed: c.failed}
	for k, v := range c.paths {
		consts[k] = v
	}
	return consts
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, _ *cli.Context, env *tools.Env) error {
	if err := t.cfg.check(); err != nil {
		return err
	}
	return tools.RunEvents(ctx, env, t.cfg.events(t.Program()))
}
