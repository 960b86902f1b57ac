package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

// privateMountsEnv marks a doctor that runs in a mount namespace of its
// own (see doctorCommand).
const privateMountsEnv = "EBTOOLS_DOCTOR_PRIVATE_MOUNTS"

// errNothingRuns is doctor's verdict when no tool can run here.
var errNothingRuns = errors.New("no tool can run here (see doctor's report above)")

func doctorCommand(stdout, stderr *os.File) *cli.Command {
	return &cli.Command{
		Name:         "doctor",
		Usage:        "Report what this kernel offers to BPF tracing and which tools can run here",
		Flags:        doctorFlags(),
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			g, err := parseGlobals(c)
			if err != nil {
				return err
			}
			if g.format == output.None {
				return tools.Usagef("-o/--output none: doctor prints a report, as text or json")
			}
			for _, name := range metricsFlags {
				if lookup(c, name) != nil {
					return tools.Usagef("--%s is for tools, not doctor", name)
				}
			}
			if err := output.CheckStdout(stdout); err != nil {
				return err
			}
			log := newLogger(g.logLevel, stderr).Named("doctor")
			// A diagnostic changes nothing: where tracefs is not mounted,
			// doctor looks at it from a mount namespace of its own, as a
			// tool would mount it, and the mount goes away with doctor.
			if os.Getenv(privateMountsEnv) == "" && !ebrt.TracefsMounted() {
				if missing, err := ebrt.Missing([]ebrt.Capability{ebrt.CapSysAdmin}); err == nil && len(missing) == 0 {
					log.Info("tracefs is not mounted: checking it from a mount namespace of doctor's own")
					return inPrivateMounts(stdout, stderr)
				}
			}
			return doctor(stdout, g)
		},
	}
}

// doctorFlags are the global flags that mean something to doctor: not
// -d, as doctor traces nothing.
func doctorFlags() []cli.Flag {
	var flags []cli.Flag
	for _, f := range globalFlags() {
		if name := f.Names()[0]; name != "duration" && !slices.Contains(metricsFlags, name) {
			flags = append(flags, f)
		}
	}
	return flags
}

// inPrivateMounts runs this command again in a new mount namespace (whose
// mounts Go makes private) and passes on its exit status.
func inPrivateMounts(stdout, stderr *os.File) error {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), privateMountsEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("run doctor in a mount namespace of its own: %w", err)
	}
	return nil
}

// exitStatus makes main exit with this status and print nothing: the
// process that failed has said why.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// check is one line of doctor's report.
type check struct {
	name, detail string
	ok           *bool // nil: cannot tell
	tool         bool
	caps         []ebrt.Capability
}

func doctor(stdout *os.File, g globals) error {
	var checks []check
	privileged := true
	for _, f := range ebrt.Doctor(g.btfPath) {
		checks = append(checks, check{name: f.Name, detail: f.Detail, ok: &f.OK})
		if f.Name == "privileges" {
			privileged = f.OK
		}
	}
	runnable := 0
	for _, t := range tools.All() {
		c := check{name: t.Name(), tool: true, caps: t.Program().Capabilities()}
		switch plan, err := ebrt.Check(t.Program(), ebrt.Options{BTFPath: g.btfPath}); {
		case !privileged:
			c.detail = "cannot tell without the privileges above"
		case err != nil:
			c.ok, c.detail = new(false), err.Error()
			var pe *ebrt.PrivilegeError
			if errors.As(err, &pe) {
				for _, m := range pe.Missing {
					if !slices.Contains(c.caps, m) {
						c.caps = append(c.caps, m)
					}
				}
			}
		default:
			c.ok, c.caps = new(true), plan.Capabilities
			c.detail = strings.Join(plan.How, ", ")
			runnable++
		}
		checks = append(checks, c)
	}
	w := output.NewWriter(stdout)
	for _, c := range checks {
		if g.format == output.JSON {
			w.Write(c.appendJSON(nil))
		} else {
			w.Write(c.appendText(nil))
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if runnable == 0 {
		return errNothingRuns
	}
	return nil
}

func (c check) status() string {
	switch {
	case c.ok == nil:
		return "?"
	case *c.ok:
		return "yes"
	}
	return "no"
}

func (c check) capNames() []string {
	var names []string
	for _, cp := range c.caps {
		names = append(names, cp.Name)
	}
	return names
}

// appendText appends "NAME STATUS DETAIL", tools with what they need.
func (c check) appendText(b []byte) []byte {
	name, detail := c.name, c.detail
	if c.tool {
		name = "tool " + name
		detail += "; as non-root: " + strings.Join(c.capNames(), ", ")
	}
	b = fmt.Appendf(b, "%-16s %-4s ", name, c.status())
	b = output.AppendText(b, []byte(detail), false)
	return append(b, '\n')
}

// appendJSON appends one JSON object: {"check":NAME,...} for a fact of
// the system, {"tool":NAME,...,"capabilities":[...]} for a tool; "ok" is
// null where doctor cannot tell.
func (c check) appendJSON(b []byte) []byte {
	key := "check"
	if c.tool {
		key = "tool"
	}
	b = fmt.Appendf(b, `{"%s":`, key)
	b = output.AppendJSONString(b, []byte(c.name))
	b = append(b, `,"ok":`...)
	switch {
	case c.ok == nil:
		b = append(b, "null"...)
	default:
		b = fmt.Appendf(b, "%t", *c.ok)
	}
	b = append(b, `,"detail":`...)
	b = output.AppendJSONString(b, []byte(c.detail))
	if c.tool {
		b = append(b, `,"capabilities":[`...)
		for i, n := range c.capNames() {
			if i > 0 {
				b = append(b, ',')
			}
			b = output.AppendJSONString(b, []byte(n))
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}
