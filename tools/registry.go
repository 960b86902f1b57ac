// Package tools holds the registry of ebtools' tracing tools and what every
// tool is handed to run. Each tool lives in its own package under tools/ and
// registers itself from init:
//
//	func init() { tools.Register(&Tool{}) }
//
// tools/all imports every tool; cmd/ebtools builds one subcommand per entry
// of All.
package tools

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
)

// Tool is one ebtools subcommand. Constructing a Tool has no side effects;
// all work happens in Run.
type Tool interface {
	// Name is the subcommand, the bpf/<name>.bpf.c stem and the package name.
	Name() string
	// Usage is a one-line description for `ebtools --help`.
	Usage() string
	// Examples are shown by `ebtools <tool> --help`, one per line.
	Examples() string
	// Flags are the tool's own flags (the global ones are added for it).
	Flags() []cli.Flag
	// Program describes the BPF side, for running and for `ebtools doctor`.
	Program() ebrt.Program
	// Run traces until ctx ends. Errors from bad flag values wrap ErrUsage.
	Run(ctx context.Context, c *cli.Context, env *Env) error
}

// WithArgs is implemented by tools that take positional arguments (such as
// ipcount's IFACE); other tools reject any.
type WithArgs interface {
	// ArgsUsage names the arguments for the usage line, e.g. "IFACE".
	ArgsUsage() string
}

// Env is what every tool gets from the command line and main.
type Env struct {
	Log     hclog.Logger
	Out     *output.Writer
	Format  output.Format
	BTFPath string
	// Duration (-d) is how long to trace once attached; 0 is until stopped.
	Duration time.Duration
	// DropCapabilities gives up the capabilities the process no longer
	// needs once attached (runtime.Options.DropCapabilities).
	DropCapabilities bool
	// Metrics is the tool's part of the --metrics endpoint; nil without it.
	Metrics *metrics.Tool
}

// StopGrace is how long output may take to drain once tracing stops (a
// signal, -d): a reader that takes nothing for that long (`| sleep 600`)
// gets nothing more, and what it missed is counted as lost.
const StopGrace = 500 * time.Millisecond

// Traced returns ctx bounded by -d, to be called once the tool is attached:
// -d counts tracing time, not start-up. When it ends, the output has
// StopGrace to take each batch from then on (what was pending, a final
// summary): only one that takes nothing for that long is given up.
func (e *Env) Traced(ctx context.Context) (context.Context, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	if e.Duration <= 0 {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, e.Duration)
	}
	if e.Out != nil {
		context.AfterFunc(ctx, func() { e.Out.DiscardAfter(StopGrace) })
	}
	return ctx, cancel
}

// Runtime returns runtime options for this environment.
func (e *Env) Runtime(constants map[string]any, cgroup string) ebrt.Options {
	return ebrt.Options{Logger: e.Log.Named("runtime"), BTFPath: e.BTFPath, Constants: constants, CgroupPath: cgroup,
		DropCapabilities: e.DropCapabilities, Counts: e.Metrics.Counts()}
}

// ErrUsage marks errors in how a tool was invoked (exit status 2).
var ErrUsage = errors.New("usage")

// Usagef returns a usage error with a formatted reason.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...)
}

var (
	mu       sync.Mutex
	registry = map[string]Tool{}
)

// Register makes a tool available. It panics on a nil tool or a duplicate
// name, which are programming errors.
func Register(t Tool) {
	mu.Lock()
	defer mu.Unlock()
	if t == nil {
		panic("tools: Register of a nil tool")
	}
	if _, dup := registry[t.Name()]; dup {
		panic("tools: Register called twice for " + t.Name())
	}
	registry[t.Name()] = t
}

// All returns the registered tools sorted by name.
func All() []Tool {
	mu.Lock()
	defer mu.Unlock()
	all := make([]Tool, 0, len(registry))
	for _, t := range registry {
		all = append(all, t)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	return all
}

// About is what a tool tells about itself; tools embed it to implement
// Name, Usage and Examples.
type About struct {
	// Cmd is the subcommand, the bpf/<name>.bpf.c stem and the package name.
	Cmd string
	// Short is the one-line description for `ebtools --help`.
	Short string
	// Example lines for `ebtools <tool> --help`, one per line.
	Example string
}

// Name implements Tool.
func (a About) Name() string { return a.Cmd }

// Usage implements Tool.
func (a About) Usage() string { return a.Short }

// Examples implements Tool.
func (a About) Examples() string { return a.Example }
