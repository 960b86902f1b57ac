package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/internal/testutil"
)

// outOfRange are values no numeric flag may accept: IDs that wrap to 32
// bits (2^32 is 0, "filter off"; 2^32+1 is 1), negative ones, and numbers
// too large for any count or time. Floats get NaN and infinities too.
var (
	outOfRangeInts   = []string{"4294967296", "4294967297", "-1", "99999999999999999999"}
	outOfRangeFloats = append(slices.Clone(outOfRangeInts), "NaN", "Inf", "-Inf", "1e300")
)

// numericFlags returns the long name of every numeric flag in flags with
// the out-of-range values to try on it. New flag types fail the test until
// they are listed here.
func numericFlags(t *testing.T, flags []cli.Flag) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, f := range flags {
		name := f.Names()[0]
		switch f.(type) {
		case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag,
			*cli.IntSliceFlag, *cli.Int64SliceFlag, *cli.UintSliceFlag, *cli.Uint64SliceFlag:
			m[name] = outOfRangeInts
		case *cli.Float64Flag, *cli.Float64SliceFlag:
			m[name] = outOfRangeFloats
		case *cli.DurationFlag:
			m[name] = []string{"-1s", "2562048h", "99999999999999999999s"}
		case *cli.BoolFlag, *cli.StringFlag, *cli.StringSliceFlag, *cli.PathFlag:
		default:
			t.Errorf("flag --%s: type %T is not covered by this test", name, f)
		}
	}
	return m
}

// TestNumericFlagRanges feeds every numeric flag of every command,
// global ones included, values out of any sane range: each must be a usage
// error (exit 2), never a silently wrapped number.
func TestNumericFlagRanges(t *testing.T) {
	bin := testutil.Binary(t)
	app := newApp(nil, nil)
	for _, cmd := range app.Commands {
		var positional []string
		if cmd.ArgsUsage != "" {
			positional = []string{"lo"}
		}
		for name, values := range numericFlags(t, cmd.Flags) {
			for _, v := range values {
				args := append([]string{cmd.Name, "--" + name, v}, positional...)
				t.Run(strings.Join(args, " "), func(t *testing.T) { wantUsageError(t, bin, args) })
			}
		}
		// The global flags before the tool name too.
		for name, values := range numericFlags(t, app.Flags) {
			for _, v := range values {
				args := append([]string{"--" + name, v, cmd.Name}, positional...)
				t.Run(strings.Join(args, " "), func(t *testing.T) { wantUsageError(t, bin, args) })
			}
		}
	}
}

// wantUsageError runs ebtools with args and wants exit 2 with one line on
// stderr. As root it runs as nobody, so that a value wrongly accepted ends
// in a privilege error (exit 1) rather than in tracing.
func wantUsageError(t *testing.T, bin string, args []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	stdout, stderr, code := ebtools(t, cmd)
	if code != 2 || strings.Count(stderr, "\n") != 1 || stdout != "" {
		t.Errorf("ebtools %s: exit %d, stderr %q, stdout %q; want exit 2 and one line", strings.Join(args, " "), code, stderr, stdout)
	}
	if strings.Contains(stderr, "ebtools ebtools") {
		t.Errorf("ebtools %s: stderr %q", strings.Join(args, " "), stderr)
	}
}

func TestNormalizeArgs(t *testing.T) {
	app := newApp(nil, nil)
	tests := []struct {
		in, want string
	}{
		{"-d1 execsnoop", "-d 1 execsnoop"},
		{"execsnoop -d1", "execsnoop -d 1"},
		{"execsnoop -p123 -P1", "execsnoop -p 123 -P 1"},
		{"execsnoop -xp123", "execsnoop -x -p 123"},
		{"execsnoop -xTU", "execsnoop -x -T -U"},
		{"execsnoop -p -1", "execsnoop -p -1"},
		{"execsnoop --pid=5 -d=2", "execsnoop --pid=5 -d=2"},
		{"execsnoop --max-args 3", "execsnoop --max-args 3"},
		{"execsnoop -ojson", "execsnoop -o json"},
		{"opensnoop -fO_RDWR -f O_CREAT", "opensnoop -f O_RDWR -f O_CREAT"},
		{"tcplife -46", "tcplife -4 -6"},
		{"ipcount veth0 -i 1", "ipcount -i 1 -- veth0"},
		{"ipcount -n5 veth0 -i1 --sort bytes", "ipcount -n 5 -i 1 --sort bytes -- veth0"},
		{"ipcount -- -odd-name", "ipcount -- -odd-name"},
		{"execsnoop extra", "execsnoop -- extra"},
		{"execsnoop -Z", "execsnoop -Z"},
		{"execsnoop -xZ", "execsnoop -xZ"},
		{"nosuchtool -d1", "nosuchtool -d1"},
		{"-o json", "-o json"},
		{"--help", "--help"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := normalizeArgs(app, append([]string{"ebtools"}, strings.Fields(tt.in)...))
			if want := append([]string{"ebtools"}, strings.Fields(tt.want)...); !slices.Equal(got, want) {
				t.Errorf("normalizeArgs(%s) = %q, want %q", tt.in, got[1:], want[1:])
			}
		})
	}
}

// TestAttachedShortValues: every value-taking flag with a one-letter name,
// in every command, takes its value attached (-p123) as getopt does.
func TestAttachedShortValues(t *testing.T) {
	app := newApp(nil, nil)
	n := 0
	for _, cmd := range app.Commands {
		for _, f := range cmd.Flags {
			if !takesValue(f) {
				continue
			}
			for _, alias := range f.Names()[1:] {
				if len(alias) != 1 {
					continue
				}
				n++
				got := normalizeArgs(app, []string{"ebtools", cmd.Name, "-" + alias + "42"})
				if want := []string{"ebtools", cmd.Name, "-" + alias, "42"}; !slices.Equal(got, want) {
					t.Errorf("%s -%s42: %q, want %q", cmd.Name, alias, got, want)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d short value flags found", n)
	}
}

func TestInputErrors(t *testing.T) {
	bin := testutil.Binary(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"pid wraps to 0", []string{"execsnoop", "-p", "4294967296"}, "-p/--pid 4294967296: want 1 to 4194304"},
		{"ppid wraps to 1", []string{"execsnoop", "-P", "4294967297"}, "-P/--ppid 4294967297: want 1 to 4194304"},
		{"above PID_MAX_LIMIT", []string{"unlinksnoop", "-p", "4194305"}, "want 1 to 4194304"},
		{"tid wraps", []string{"opensnoop", "-t", "4294967296"}, "-t/--tid 4294967296"},
		{"tcplife pid", []string{"tcplife", "-p4294967296"}, "-p/--pid 4294967296"},
		{"negative pid", []string{"execsnoop", "-p", "-5"}, "-p/--pid -5"},
		{"duration NaN", []string{"-d", "NaN", "execsnoop"}, "-d/--duration NaN: want 0.001 to 1000000000 seconds"},
		{"duration Inf", []string{"execsnoop", "-d", "Inf"}, "-d/--duration +Inf"},
		{"duration tiny", []string{"execsnoop", "-d", "1e-12"}, "-d/--duration 1e-12"},
		{"duration huge", []string{"execsnoop", "-d1e10"}, "-d/--duration 1e+10"},
		{"global flag error", []string{"--bogus", "execsnoop"}, "(see ebtools --help)"},
		{"global value error", []string{"-d", "x", "execsnoop"}, "(see ebtools --help)"},
		{"flag after argument", []string{"ipcount", "lo", "-i", "0"}, "-i/--interval 0"},
		{"doctor has no -d", []string{"doctor", "-d", "1"}, "flag provided but not defined: -d (see ebtools doctor --help)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			if os.Geteuid() == 0 {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}
			_, stderr, code := ebtools(t, cmd)
			if code != 2 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "ebtools ebtools") {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line with %q", code, stderr, tt.want)
			}
		})
	}
}

// TestBTFNotARegularFile: --btf on a device, a directory or a named pipe is
// refused at once, as is a file larger than any BTF.
func TestBTFNotARegularFile(t *testing.T) {
	testutil.RequirePrivileged(t) // the BTF is read once privileges are checked
	dir := t.TempDir()
	fifo, big := dir+"/fifo", dir+"/big.btf"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(300 << 20) // sparse
	f.Close()
	for path, want := range map[string]string{
		"/dev/zero":    "not a regular file but a character device",
		"/dev/urandom": "not a regular file but a character device",
		dir:            "not a regular file but a directory",
		fifo:           "not a regular file but a named pipe",
		big:            "314572800 bytes, more than the 256 MiB ebtools reads",
	} {
		began := time.Now()
		_, stderr, code := ebtools(t, exec.Command(testutil.Binary(t), "--btf", path, "execsnoop"))
		took := time.Since(began)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, want) {
			t.Errorf("--btf %s: exit %d, stderr %q; want exit 1 and %q", path, code, stderr, want)
		}
		if limit := testutil.Scaled(500 * time.Millisecond); took > limit {
			t.Errorf("--btf %s took %v, want under %v", path, took, limit)
		}
	}
}
