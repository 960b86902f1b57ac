// Package killsnoop traces signals sent with kill(2), tkill(2) and
// tgkill(2): who sent which signal to whom, and the result, as BCC's
// killsnoop.
//
//	ebtools killsnoop [-x] [-s SIGNAL] [-p PID] [-T|-t]
package killsnoop

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

func init() {
	tools.Register(&Tool{About: tools.About{Cmd: "killsnoop", Short: "Trace signals sent by kill(), tkill() and tgkill()",
		Example: `ebtools killsnoop                  # trace every signal sent
ebtools killsnoop -x               # only failed kill()s
ebtools killsnoop -s SIGKILL       # only SIGKILL (or -s 9)
ebtools killsnoop -p 181           # only signals PID 181 sends
ebtools -o json killsnoop          # JSON lines, with the sender's ancestors`}})
}

// Tool is the killsnoop subcommand. Flags binds a fresh config, which Run uses.
type Tool struct {
	tools.About
	cfg *config
}

type config struct {
	task   tools.TaskConfig
	failed bool
	signal string
	sig    uint32
}

// Flags implements tools.Tool.
func (t *Tool) Flags() []cli.Flag {
	t.cfg = &config{}
	c := t.cfg
	return append(append(c.task.TimeFlags(output.NoTime, "time", "T", "timestamp", "t"),
		&cli.BoolFlag{Name: "failed", Aliases: []string{"x"}, Destination: &c.failed, Usage: "only failed calls (in kernel)"},
		&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Destination: &c.signal, Usage: "only this `SIGNAL`, by name or number (in kernel)"},
	), c.task.Flags(tools.Letters{})...)
}

// Program implements tools.Tool.
func (*Tool) Program() ebrt.Program {
	exit := func(name string) string { return killsnoopProgKillExit + "@syscalls/sys_exit_" + name }
	return ebrt.Program{
		Name: "killsnoop",
		Load: loadKillsnoop,
		Hooks: []ebrt.Hook{
			{Name: "kill", Choices: [][]string{{killsnoopProgKillEnter, killsnoopProgKillExit}}},
			{Name: "tkill", Optional: true, Choices: [][]string{{killsnoopProgTkillEnter, exit("tkill")}}},
			{Name: "tgkill", Optional: true, Choices: [][]string{{killsnoopProgTgkillEnter, exit("tgkill")}}},
			{Name: "signal_generate", Choices: [][]string{{killsnoopProgSignalGenerate}}},
		},
	}
}

func (c *config) check() error {
	if err := c.task.Check(); err != nil {
		return err
	}
	c.sig = 0
	if c.signal == "" {
		return nil
	}
	n, err := strconv.ParseUint(c.signal, 10, 8)
	if err != nil {
		n = uint64(unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(c.signal), "SIG")))
	}
	if n == 0 || n > 64 {
		return tools.Usagef("-s/--signal %q: want a signal name (SIGTERM, TERM) or number (1-64)", c.signal)
	}
	c.sig = uint32(n)
	return nil
}

// Column indexes of killsnoop's own columns.
const (
	colSig = tools.NumTaskCols + iota
	colTPID
	colTComm
	colResult
	colSigNum
	colRet
	colError
	colSyscall
)

var columns = tools.Columns(
	output.Column{Header: "SIG", Key: "signal", Width: 9},
	output.Column{Header: "TPID", Key: "tpid", Width: 7},
	output.Column{Header: "TCOMM", Key: "tcomm", Width: 16},
	output.Column{Header: "RESULT", Width: output.ErrnoWidth},
	output.Column{Key: "sig"},
	output.Column{Key: "ret"},
	output.Column{Key: "error"},
	output.Column{Key: "syscall"},
)

var (
	errShort = errors.New("decode killsnoop event: record shorter than its header")
	syscalls = [...]string{"kill", "tkill", "tgkill"}
)

// signals is killsnoop's own metric (--metrics); sigLabels are its
// signal label values, by number.
var (
	signals   = &metrics.Metric{Name: "signals_total", Help: "Signals sent, by signal (SIGTERM, or its number) and result: ok or the errno name.", Labels: []string{"signal", "result"}}
	sigLabels [65]string
)

func init() {
	for i := range sigLabels {
		if sigLabels[i] = unix.SignalName(syscall.Signal(i)); sigLabels[i] == "" {
			sigLabels[i] = strconv.Itoa(i)
		}
	}
}

// events is killsnoop for the spine: PID COMM SIG TPID TCOMM RESULT.
func (c *config) events(prog ebrt.Program) tools.Events {
	return tools.Events{
		Program:   prog,
		Task:      &c.task,
		Lineage:   true,
		Constants: map[string]any{killsnoopVarTargFailed: c.failed, killsnoopVarTargSig: c.sig},
		Columns:   columns,
		Layout:    []int{tools.ColPID, tools.ColComm, colSig, colTPID, colTComm, colResult},
		Metrics:   []*metrics.Metric{signals},
		Measure: func(m *metrics.Meter, raw []byte) {
			e := tools.Header[killsnoopEvent](raw)
			sig := metrics.Other
			if int(e.Sig) < len(sigLabels) {
				sig = sigLabels[e.Sig]
			}
			m.Add(signals, 1, sig, tools.ResultLabel(int64(e.Ret)))
		},
		Fill: func(r *output.Row, raw []byte) (bool, error) {
			e := tools.Header[killsnoopEvent](raw)
			if e == nil {
				return false, tools.Malformed(errShort)
			}
			if name := unix.SignalName(syscall.Signal(e.Sig)); name != "" {
				r.Text(colSig, name)
			} else {
				r.Uint(colSig, uint64(e.Sig))
			}
			r.Uint(colSigNum, uint64(e.Sig))
			r.Int(colTPID, int64(e.Tpid))
			if e.Found != 0 {
				r.Str(colTComm, tools.Comm(&e.Tcomm), false)
			}
			tools.SetResult(r, colResult, colRet, colError, int64(e.Ret))
			if int(e.Syscall) < len(syscalls) {
				r.Text(colSyscall, syscalls[e.Syscall])
			}
			return true, nil
		},
	}
}

// Run implements tools.Tool.
func (t *Tool) Run(ctx context.Context, _ *cli.Context, env *tools.Env) error {
	if err := t.cfg.check(); err != nil {
		return err
	}
	return tools.RunEvents(ctx, env, t.cfg.events(t.Program()))
}
