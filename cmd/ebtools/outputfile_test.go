package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// TestOutputFileRotation: opensnoop -o json --output-file under about
// 50,000 opens a second (fewer under emulation) for 5 seconds,
// its file renamed and SIGHUP sent 100 times in the meantime, as logrotate
// does: the files together hold every open exactly once, each line one
// whole JSON object, and nothing was lost. At 100,000 a second the JSON
// reader (~5 us an event) lost 1,172 of 500,000 on this 2-CPU host while
// go test ran another package's tests next to it.
func TestOutputFileRotation(t *testing.T) {
	testutil.RequirePrivileged(t)
	const rotations, seconds = 100, 5
	// Under emulation: testutil.Paced of 100,000, 5,000 a second in the x86
	// guests, 2,500 in the arm64 guest.
	rate := 50000
	if paced := testutil.Paced(100000); paced > 0 {
		rate = paced
	}
	n := rate * seconds
	dir := t.TempDir()
	log := filepath.Join(dir, "events.json")
	missing := filepath.Join(dir, "missing") // opens fail with ENOENT, one event each
	// Appended to, not truncated.
	const before = "written before\n"
	if err := os.WriteFile(log, []byte(before), 0o640); err != nil {
		t.Fatal(err)
	}
	w := startFleet(t, "open", strconv.Itoa(n), missing, strconv.Itoa(rate))
	p := testutil.Start(t, "-o", "json", "--output-file", log, "opensnoop", "-p", strconv.Itoa(w.pid()))

	type result struct {
		out string
		err error
	}
	ran := make(chan result, 1)
	go func() {
		if _, err := w.stdin.Write([]byte("go\n")); err != nil {
			ran <- result{err: err}
			return
		}
		out, _ := w.out.ReadString('\n')
		ran <- result{out, w.cmd.Wait()}
	}()
	began := time.Now()
	for i := 0; i < rotations; i++ {
		// Rotation i on a schedule, not a fixed sleep after the last
		// reopen: at 20 ms a reopen (the arm64 guest), 100 sleeps of 50 ms
		// took 6.9 s of the workload's 4.9, leaving half the files empty.
		time.Sleep(time.Until(began.Add(time.Duration(i+1) * seconds * time.Second / rotations)))
		if err := os.Rename(log, fmt.Sprintf("%s.%d", log, i)); err != nil {
			t.Fatal(err)
		}
		if err := p.Cmd.Process.Signal(unix.SIGHUP); err != nil {
			t.Fatal(err)
		}
		// The next rename only once ebtools has reopened the file.
		for deadline := time.Now().Add(testutil.Timeout); ; {
			if _, err := os.Stat(log); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rotation %d: %s not reopened within %v\n%s", i, log, testutil.Timeout, p.Stderr())
			}
			time.Sleep(time.Millisecond)
		}
	}
	rotated := time.Since(began)
	res := <-ran
	if res.err != nil {
		t.Fatalf("workload: %v", res.err)
	}
	if _, code := p.Stop(t, unix.SIGTERM); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.Stderr())
	}
	if !strings.Contains(p.Stderr(), " lost=0 ") {
		t.Fatalf("ebtools lost events, so no count can be exact:\n%s", p.Stderr())
	}

	seen := make([]int, n)
	files, _ := filepath.Glob(log + "*")
	perFile := make([]int, rotations+1) // events in events.json.0 ... .99, then events.json
	for _, name := range files {
		lines := readLines(t, name)
		if name == log+".0" {
			if len(lines) == 0 || lines[0]+"\n" != before {
				t.Fatalf("%s does not start with what it held before: %.80q", name, lines)
			}
			lines = lines[1:]
		}
		if i, err := strconv.Atoi(strings.TrimPrefix(name, log+".")); err == nil && i < rotations {
			perFile[i] = len(lines)
		} else if name == log {
			perFile[rotations] = len(lines)
		}
		for _, l := range lines {
			var ev struct{ Arg string }
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("%s: not one JSON object: %q: %v", name, l, err)
			}
			i, err := strconv.Atoi(strings.TrimPrefix(ev.Arg, missing+"/"))
			if err != nil || i < 0 || i >= n {
				t.Fatalf("%s: an open that is not the workload's: %q", name, l)
			}
			seen[i]++
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("open %d is in the files %d times", i, c)
		}
	}
	nonEmpty := 0
	for _, c := range perFile {
		if c > 0 {
			nonEmpty++
		}
	}
	t.Logf("%s; %d rotations in %v; %d files, %d with events, hold each of the %d opens once; events in each: %v",
		strings.TrimSpace(res.out), rotations, rotated.Round(time.Millisecond), len(files), nonEmpty, n, perFile)
	if len(files) != rotations+1 || nonEmpty < rotations/2 {
		t.Errorf("%d files, %d with events: want %d, most of them written to while the workload ran; events in each, in rotation order: %v",
			len(files), nonEmpty, rotations+1, perFile)
	}
}

// readLines returns the lines of a file, failing t on a last line without
// its newline (a line split across files).
func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends inside a line: %q", name, b[max(0, len(b)-80):])
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
