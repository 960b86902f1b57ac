package execsnoop

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
)

// TestOptions runs the binary once per flag set against the same kind of
// workload and checks the rows it prints.
func TestOptions(t *testing.T) {
	testutil.RequirePrivileged(t)
	long := strings.Repeat("L", 5000)
	tests := []struct {
		name  string
		flags []string
		run   func(t *testing.T) // the workload
		// marker runs an exec that passes the filters, with "end-marker" last
		// in argv; nil runs /bin/echo end-marker.
		marker func(t *testing.T)
		want   []string // regexps, one per row before the marker row, in order
	}{
		{
			name:  "max-args",
			flags: []string{"--max-args", "3"},
			run:   func(t *testing.T) { runWorkload(t, "/bin/echo", "a", "b", "c", "d") },
			want:  []string{` /bin/echo a b \.\.\.$`},
		},
		{
			// The new image keeps an argument whole, however long.
			name: "long argument",
			run:  func(t *testing.T) { runWorkload(t, "/bin/echo", long, "next") },
			want: []string{` /bin/echo ` + long + ` next$`},
		},
		{
			name:  "quote",
			flags: []string{"-q"},
			run:   func(t *testing.T) { runWorkload(t, "/bin/echo", "a b", `q"x`) },
			want:  []string{` "/bin/echo" "a b" "q\\"x"$`},
		},
		{
			name:  "name",
			flags: []string{"-n", "ech"},
			run: func(t *testing.T) {
				runWorkload(t, "/bin/true", "skip")
				runWorkload(t, "/bin/echo", "keep")
			},
			want: []string{`^echo .* /bin/echo keep$`},
		},
		{
			name:  "line",
			flags: []string{"-l", "needle"},
			run: func(t *testing.T) {
				runWorkload(t, "/bin/echo", "hay")
				runWorkload(t, "/bin/echo", "a-needle-b")
			},
			marker: func(t *testing.T) { runWorkload(t, "/bin/echo", "needle", "end-marker") },
			want:   []string{` /bin/echo a-needle-b$`},
		},
		{
			name:  "uid and print-uid",
			flags: []string{"-u", "65534", "-U"},
			run: func(t *testing.T) {
				runWorkload(t, "/bin/echo", "as-root")
				runAs(t, 65534, "/bin/echo", "as-nobody")
			},
			marker: func(t *testing.T) { runAs(t, 65534, "/bin/echo", "end-marker") },
			want:   []string{`^65534  echo .* /bin/echo as-nobody$`},
		},
		{
			name:  "time",
			flags: []string{"-T"},
			run:   func(t *testing.T) { runWorkload(t, "/bin/true") },
			want:  []string{`^\d\d:\d\d:\d\d true +\d+ +\d+ +0 /bin/true$`},
		},
		{
			name:  "timestamp",
			flags: []string{"-t"},
			run:   func(t *testing.T) { runWorkload(t, "/bin/true") },
			want:  []string{`^\d+\.\d{3} +true +\d+ +\d+ +0 /bin/true$`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testutil.Start(t, append(append([]string{"execsnoop"}, selfFilter()...), tt.flags...)...)
			tt.run(t)
			if tt.marker != nil {
				tt.marker(t)
			} else {
				runWorkload(t, "/bin/echo", "end-marker")
			}
			var rows []string
			for {
				l := p.WaitLine(t, func(string) bool { return true })
				if strings.HasSuffix(l, "end-marker") || strings.HasSuffix(l, `end-marker"`) {
					break
				}
				if !strings.HasPrefix(l, "COMM") && !strings.Contains(l, " COMM ") {
					rows = append(rows, l)
				}
			}
			if len(rows) != len(tt.want) {
				t.Fatalf("rows:\n%s\nwant %d rows matching %q", strings.Join(rows, "\n"), len(tt.want), tt.want)
			}
			for i, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(rows[i]) {
					t.Errorf("row %d = %q, want match for %q", i, rows[i], re)
				}
			}
		})
	}
}

func runAs(t *testing.T, uid uint32, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	if err := cmd.Run(); err != nil {
		t.Fatalf("workload as uid %d: %v", uid, err)
	}
}

// TestPIDFilter checks -p: only the exec of that one process is shown.
func TestPIDFilter(t *testing.T) {
	testutil.RequirePrivileged(t)
	sh := exec.Command("/bin/sh", "-c", "read x; exec /bin/echo pid-filter")
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer sh.Wait()
	p := testutil.Start(t, "-o", "json", "execsnoop", "-p", strconv.Itoa(sh.Process.Pid))
	runWorkload(t, "/bin/echo", "other-process")
	stdin.Write([]byte("go\n"))
	stdin.Close()
	l := p.WaitLine(t, func(string) bool { return true })
	var e jsonEvent
	if err := json.Unmarshal([]byte(l), &e); err != nil || e.PID != sh.Process.Pid || fmt.Sprint(e.Args) != "[/bin/echo pid-filter]" {
		t.Errorf("first event = %s (%v), want pid %d running /bin/echo pid-filter", l, err, sh.Process.Pid)
	}
}

// TestCgroupFilter checks -c against a cgroup v2 directory the test makes.
func TestCgroupFilter(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, fd := testutil.Cgroup(t, "filter")

	p := testutil.Start(t, append([]string{"execsnoop", "-c", dir}, selfFilter()...)...)
	runWorkload(t, "/bin/echo", "outside")
	in := exec.Command("/bin/echo", "inside")
	in.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if err := in.Run(); err != nil {
		t.Fatalf("workload in cgroup: %v", err)
	}
	row := p.WaitLine(t, func(l string) bool { return !strings.HasPrefix(l, "COMM") })
	if !strings.HasSuffix(row, " /bin/echo inside") {
		t.Errorf("first row = %q, want the exec inside %s", row, dir)
	}
}
