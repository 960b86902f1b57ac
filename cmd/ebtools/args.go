package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// normalizeArgs rewrites the command line into the form urfave/cli parses,
// so that ebtools accepts what getopt(3) users (libbpf-tools, BCC) type:
//
//   - a short flag with its value attached: -d1, -p123, -xp123;
//   - flags after a positional argument: ebtools ipcount IFACE -i 1.
//
// Short flags are split ("-xp123" becomes "-x", "-p", "123") and a tool's
// positional arguments are moved after its flags, behind "--". Anything it
// does not recognize is passed on unchanged, for urfave/cli to report.
func normalizeArgs(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	// Global flags before the tool name.
	for len(rest) > 0 {
		a := rest[0]
		if a == "--" || !isFlag(a) {
			break
		}
		split, wantsValue := splitFlag(app.Flags, a)
		out = append(out, split...)
		rest = rest[1:]
		if wantsValue && len(rest) > 0 {
			out = append(out, rest[0])
			rest = rest[1:]
		}
	}
	if len(rest) == 0 || rest[0] == "--" {
		return append(out, rest...)
	}
	cmd := app.Command(rest[0])
	if cmd == nil {
		return append(out, rest...)
	}
	out = append(out, rest[0])
	var positional []string
	for rest = rest[1:]; len(rest) > 0; {
		a := rest[0]
		rest = rest[1:]
		switch {
		case a == "--":
			positional = append(positional, rest...)
			rest = nil
		case !isFlag(a):
			positional = append(positional, a)
		default:
			split, wantsValue := splitFlag(cmd.Flags, a)
			out = append(out, split...)
			if wantsValue && len(rest) > 0 {
				out = append(out, rest[0])
				rest = rest[1:]
			}
		}
	}
	if len(positional) > 0 {
		out = append(append(out, "--"), positional...)
	}
	return out
}

// isFlag reports whether a looks like a flag ("-" alone is an argument).
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// splitFlag splits one flag argument getopt-style and reports whether the
// next argument is its value.
func splitFlag(flags []cli.Flag, a string) (split []string, wantsValue bool) {
	name := strings.TrimLeft(a, "-")
	if strings.Contains(name, "=") {
		return []string{a}, false // -d=1, --duration=1
	}
	if f := findFlag(flags, name); f != nil || strings.HasPrefix(a, "--") || len(name) < 2 {
		return []string{a}, f != nil && takesValue(f)
	}
	// A cluster of one-letter flags, the first that takes a value ending it
	// with the rest of the argument (or the next argument) as its value.
	for i := 0; i < len(name); i++ {
		f := findFlag(flags, name[i:i+1])
		if f == nil {
			return []string{a}, false
		}
		split = append(split, "-"+name[i:i+1])
		if takesValue(f) {
			if i+1 < len(name) {
				return append(split, name[i+1:]), false
			}
			return split, true
		}
	}
	return split, false
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	tv, ok := f.(interface{ TakesValue() bool })
	return ok && tv.TakesValue()
}
