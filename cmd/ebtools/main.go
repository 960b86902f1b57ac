// Command ebtools runs BCC-style eBPF tracing tools from one binary:
//
//	ebtools [global options] <tool> [options]
//	ebtools execsnoop -x
//	ebtools doctor
//
// It is the only place that exits: 0 on success (also after Ctrl-C, SIGTERM,
// -d expiry or a closed pipe), 1 on a runtime error, 2 on a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
	_ "github.com/ebtools/ebtools/tools/all"
)

// version is set with -ldflags "-X main.version=..."; else taken from the build.
var version = ""

func main() {
	err := run(os.Args, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	var status exitStatus
	if errors.As(err, &status) {
		os.Exit(int(status))
	}
	fmt.Fprintf(os.Stderr, "ebtools: %s\n", strings.TrimPrefix(err.Error(), tools.ErrUsage.Error()+": "))
	if errors.Is(err, tools.ErrUsage) {
		os.Exit(2)
	}
	os.Exit(1)
}

func run(args []string, stdout, stderr *os.File) error {
	// A closed stdout must surface as EPIPE, not kill the process, so the
	// tool can detach and exit 0.
	signal.Ignore(syscall.SIGPIPE)
	app := newApp(stdout, stderr)
	return app.Run(normalizeArgs(app, args))
}

// newApp returns the command line: global flags, one command per tool, doctor.
func newApp(stdout, stderr *os.File) *cli.App {
	app := &cli.App{
		Name:                   "ebtools",
		Usage:                  "BCC-style eBPF tracing tools in one binary (CO-RE: no kernel headers or compiler needed)",
		UsageText:              "ebtools [global options] <tool> [options]",
		Version:                buildVersion(),
		Flags:                  globalFlags(),
		Writer:                 stdout,
		ErrWriter:              stderr,
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		OnUsageError:           onUsageError,
		ExitErrHandler:         func(*cli.Context, error) {}, // main exits, nobody else
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return tools.Usagef("unknown tool %q (see ebtools --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	for _, t := range tools.All() {
		app.Commands = append(app.Commands, toolCommand(t, stdout, stderr))
	}
	app.Commands = append(app.Commands, doctorCommand(stdout, stderr))
	return app
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	where := "ebtools --help"
	// The app's own flags are parsed by a root command named after it.
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		where = "ebtools " + c.Command.Name + " --help"
	}
	return tools.Usagef("%v (see %s)", err, where)
}

const toolHelp = `NAME:
   ebtools {{.Name}} - {{.Usage}}

USAGE:
   ebtools [global options] {{.Name}} [options]{{if .ArgsUsage}} {{.ArgsUsage}}{{end}}

EXAMPLES:
{{.Description}}

OPTIONS:
{{range .VisibleFlags}}   {{.}}
{{end}}`

func toolCommand(t tools.Tool, stdout, stderr *os.File) *cli.Command {
	examples := "   " + strings.ReplaceAll(t.Examples(), "\n", "\n   ")
	argsUsage := ""
	if wa, ok := t.(tools.WithArgs); ok {
		argsUsage = wa.ArgsUsage()
	}
	return &cli.Command{
		Name:               t.Name(),
		Usage:              t.Usage(),
		ArgsUsage:          argsUsage,
		Description:        examples,
		CustomHelpTemplate: toolHelp,
		Flags:              append(t.Flags(), globalFlags()...),
		OnUsageError:       onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 && argsUsage == "" {
				return tools.Usagef("unexpected argument %q (see ebtools %s --help)", c.Args().First(), t.Name())
			}
			g, err := parseGlobals(c)
			if err != nil {
				return err
			}
			if g.outputFile == "" && g.format != output.None {
				if err := output.CheckStdout(stdout); err != nil {
					return err
				}
			}
			return runTool(c, t, g, stdout, stderr)
		},
	}
}

// runTool runs t until a signal, -d, a closed stdout or an error.
func runTool(c *cli.Context, t tools.Tool, g globals, stdout, stderr *os.File) error {
	log := newLogger(g.logLevel, stderr)
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out, err := openOutput(ctx, g.outputFile, stdout, log, func() { cancel(output.ErrClosed) })
	if err != nil {
		return err
	}
	env := &tools.Env{
		Log:      log.Named(t.Name()),
		Out:      out,
		Format:   g.format,
		BTFPath:  g.btfPath,
		Duration: g.duration,
		// This process runs one tool: what it needs only to attach, it
		// gives up once attached.
		DropCapabilities: true,
	}
	if g.metricsAddr != "" {
		srv, err := metrics.Listen(g.metricsAddr, buildVersion(), g.limits)
		if err != nil {
			return err
		}
		defer srv.Close()
		go func() {
			if err := srv.Serve(); err != nil {
				log.Error("metrics endpoint stopped", "error", err)
			}
		}()
		log.Info("serving metrics", "url", "http://"+srv.Addr()+"/metrics")
		env.Metrics = srv.Tool(t.Name())
	}
	err = t.Run(ctx, c, env)
	switch {
	case errors.Is(err, output.ErrClosed):
		return nil
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		// Stopped by a signal or a closed stdout while starting up.
		return nil
	}
	return err
}

// openOutput returns the writer of events: stdout, whose reader going
// away calls closed, or with --output-file that file, appended to and
// reopened on SIGHUP until ctx ends.
func openOutput(ctx context.Context, path string, stdout *os.File, log hclog.Logger, closed func()) (*output.Writer, error) {
	if path == "" {
		output.WatchClosed(stdout, closed)
		return output.NewWriter(stdout), nil
	}
	f, err := output.OpenFile(path)
	if err != nil {
		return nil, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := f.Reopen(); err != nil {
					log.Error("output file not reopened, still writing to the one open", "error", err)
				} else {
					log.Info("output file reopened", "path", path)
				}
			}
		}
	}()
	return output.NewWriter(f), nil
}

func newLogger(level hclog.Level, stderr *os.File) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "ebtools",
		Level:  level,
		Output: stderr,
		Color:  hclog.ColorOff,
	})
}

func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v = strings.TrimSuffix(v+" "+s.Value[:12], " ")
		}
	}
	return strings.TrimSpace(v)
}
