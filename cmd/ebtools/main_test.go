package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/tools"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// ebtools runs the binary to completion and returns stdout, stderr, exit code.
func ebtools(t *testing.T, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in the one stderr line
	}{
		{"unknown flag", []string{"execsnoop", "--bogus"}, "flag provided but not defined: -bogus"},
		{"bad flag value", []string{"execsnoop", "-p", "abc"}, "invalid value \"abc\""},
		{"out of range", []string{"execsnoop", "--max-args", "20000"}, "--max-args 20000: want 1 to 16384"},
		{"bad output", []string{"-o", "xml", "execsnoop"}, "parse output format \"xml\""},
		{"bad output after tool", []string{"execsnoop", "-o", "yaml"}, "parse output format \"yaml\""},
		{"bad log level", []string{"--log-level", "loud", "execsnoop"}, "--log-level \"loud\""},
		{"bad duration", []string{"execsnoop", "-d", "-1"}, "-d/--duration"},
		{"unknown tool", []string{"nosuchtool"}, "unknown tool \"nosuchtool\""},
		{"stray argument", []string{"execsnoop", "extra"}, "unexpected argument \"extra\""},
		{"metrics without a port", []string{"--metrics", "127.0.0.1", "execsnoop"}, "--metrics \"127.0.0.1\": want host:port"},
		{"metrics groups out of range", []string{"execsnoop", "--metrics", ":0", "--metrics-max-groups", "0"}, "--metrics-max-groups 0: want 1 to 10000"},
		{"metrics values out of range", []string{"--metrics-max-values", "10001", "opensnoop"}, "--metrics-max-values 10001: want 1 to 10000"},
		{"empty output file", []string{"--output-file", "", "execsnoop"}, "--output-file: want a file name"},
		{"doctor prints", []string{"-o", "none", "doctor"}, "-o/--output none: doctor prints a report"},
		{"doctor serves no metrics", []string{"--metrics", ":0", "doctor"}, "--metrics is for tools, not doctor"},
		{"metrics top out of range", []string{"ipcount", "--metrics-top", "0", "lo"}, "--metrics-top 0: want 1 to 1000"},
	}
	bin := testutil.Binary(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := ebtools(t, exec.Command(bin, tt.args...))
			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "ebtools: ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want one line with %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	bin := testutil.Binary(t)
	out, _, code := ebtools(t, exec.Command(bin, "--help"))
	for _, tool := range tools.All() {
		if code != 0 || !regexp.MustCompile(`(?m)^\s+`+tool.Name()+`\s+`+regexp.QuoteMeta(tool.Usage())+`$`).MatchString(out) {
			t.Errorf("ebtools --help (exit %d) does not list %s:\n%s", code, tool.Name(), out)
		}
	}
	out, _, code = ebtools(t, exec.Command(bin, "execsnoop", "--help"))
	for _, want := range []string{"EXAMPLES:", "ebtools execsnoop -x", "--fails, -x", "--max-args", "--output value, -o value", "--duration SECONDS, -d SECONDS"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("ebtools execsnoop --help (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
	out, _, code = ebtools(t, exec.Command(bin, "doctor", "--help"))
	if code != 0 || !strings.Contains(out, "--output value, -o value") || strings.Contains(out, "--duration") {
		t.Errorf("ebtools doctor --help (exit %d) should list -o but not -d:\n%s", code, out)
	}
	out, _, code = ebtools(t, exec.Command(bin, "--version"))
	if code != 0 || !strings.HasPrefix(out, "ebtools version ") {
		t.Errorf("--version = %q (exit %d)", out, code)
	}
}

func TestUnprivileged(t *testing.T) {
	testutil.RequirePrivileged(t) // to become another user
	cmd := exec.Command(testutil.Binary(t), "execsnoop")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	_, stderr, code := ebtools(t, cmd)
	want := "ebtools: ebtools execsnoop needs CAP_BPF and CAP_PERFMON to load and attach its BPF programs: run it as root, or grant it CAP_BPF and CAP_PERFMON\n"
	if code != 1 || stderr != want {
		t.Errorf("as nobody: exit %d, stderr %q; want exit 1, %q", code, stderr, want)
	}
}

// TestDoctor checks doctor's kprobes verdict against the kernel config.
func TestDoctor(t *testing.T) {
	testutil.RequirePrivileged(t)
	out, stderr, code := ebtools(t, exec.Command(testutil.Binary(t), "doctor"))
	if code != 0 {
		t.Fatalf("doctor exit %d: %s", code, stderr)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if f[0] == "tool" {
			lines["tool "+f[1]] = strings.Join(f[2:], " ")
		} else {
			lines[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for _, name := range []string{"kernel", "privileges", "btf", "tracefs", "ringbuf", "tracepoints", "tp_btf", "kprobes", "fentry", "xdp", "lockdown"} {
		if _, ok := lines[name]; !ok {
			t.Errorf("doctor has no %q line:\n%s", name, out)
		}
	}
	for _, tool := range tools.All() {
		if l := lines["tool "+tool.Name()]; !strings.HasPrefix(l, "yes") {
			t.Errorf("doctor says %s cannot run here: %q", tool.Name(), l)
		}
	}
	cfg, path := kernelConfig(t)
	want := "yes"
	if strings.Contains(cfg, "# CONFIG_KPROBES is not set") {
		want = "no"
	}
	if !strings.HasPrefix(lines["kprobes"], want) {
		t.Errorf("kprobes = %q, want %s per %s", lines["kprobes"], want, path)
	}
	t.Logf("kernel %s: kprobes %s, fentry %s (config %s)", lines["kernel"], lines["kprobes"], lines["fentry"], path)
}

// kernelConfig returns the running kernel's build configuration and where
// it was found: /proc/config.gz, or /boot/config-RELEASE as distributions
// install it.
func kernelConfig(t *testing.T) (cfg, path string) {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), f.Name()
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	path = "/boot/config-" + unix.ByteSliceToString(uts.Release[:])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no kernel config to check doctor against: no /proc/config.gz, and %v", err)
	}
	return string(b), path
}
