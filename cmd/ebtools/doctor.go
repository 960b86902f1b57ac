package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

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
			if err := output.CheckStdout(stdout); err != nil {
				return err
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
		if f.Names()[0] != "duration" {
			flags = append(flags, f)
		}
	}
	return flags
}

func doctor(stdout *os.File, g globals) error {
	w := func(name, status, detail string) {
		fmt.Fprintf(stdout, "%-16s %-4s %s\n", name, status, detail)
	}
	privileged := true
	for _, f := range ebrt.Doctor(g.btfPath) {
		w(f.Name, yesNo(f.OK), f.Detail)
		if f.Name == "privileges" {
			privileged = f.OK
		}
	}
	for _, t := range tools.All() {
		name := "tool " + t.Name()
		if !privileged {
			w(name, "?", "cannot tell without privileges")
			continue
		}
		how, err := ebrt.Check(t.Program(), ebrt.Options{BTFPath: g.btfPath})
		if err != nil {
			w(name, "no", err.Error())
			continue
		}
		w(name, "yes", strings.Join(how, ", "))
	}
	return nil
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
