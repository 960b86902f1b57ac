package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
)

// fleet is testdata/fleet.c's workload, started and waiting to be told to
// run, so that a tracer can filter on its pid first.
type fleet struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startFleet(t *testing.T, args ...string) *fleet {
	t.Helper()
	cmd := exec.Command(testutil.CBinary(t, "testdata/fleet.c"), args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	f := &fleet{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if l, err := f.out.ReadString('\n'); err != nil || l != "ready\n" {
		t.Fatalf("fleet %v: %q %v", args, l, err)
	}
	return f
}

// pid returns the workload's pid, for a tracer's filter.
func (f *fleet) pid() int { return f.cmd.Process.Pid }

// run runs the workload to its end and returns what it printed.
func (f *fleet) run(t *testing.T) string {
	t.Helper()
	if _, err := io.WriteString(f.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(f.out)
	if err := f.cmd.Wait(); err != nil {
		t.Fatalf("fleet %v: %v: %s", f.cmd.Args[1:], err, out)
	}
	return string(out)
}

var metricsURL = regexp.MustCompile(`serving metrics: url=(http://\S+/metrics)`)

// startMetrics starts ebtools with --metrics on a port of its choosing and
// returns it and its endpoint, read from its log.
func startMetrics(t *testing.T, args ...string) (*testutil.Proc, string) {
	t.Helper()
	p := testutil.Start(t, append([]string{"--metrics", "127.0.0.1:0"}, args...)...)
	m := metricsURL.FindStringSubmatch(p.Stderr())
	if m == nil {
		t.Fatalf("no metrics endpoint in the log:\n%s", p.Stderr())
	}
	return p, m[1]
}

// scrape returns the text exposition of the endpoint at url.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("GET %s: Content-Type %q, want the text exposition format", url, ct)
	}
	return string(b)
}
