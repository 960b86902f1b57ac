package opensnoop

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// helperEnv makes the test binary act as a workload instead of running
// tests. On one OS thread and from cwd /, it prints "ready TID", waits for a
// line on stdin and runs each argument:
//
//	openat:DIR:NAME:FLAGS   openat(open(DIR), NAME, FLAGS, 0640)
//	open:PATH:FLAGS         open(PATH, FLAGS, 0640)
//	loop:N:PATH[:RATE]      N times open(PATH, O_RDONLY) and close, at most
//	                        RATE a second if given (else as fast as it can)
const helperEnv = "EBTOOLS_OPENSNOOP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper(os.Args[1:]))
	}
	time.Local = time.UTC // golden files hold HH:MM:SS
	testutil.Main(m)
}

func helper(ops []string) int {
	runtime.LockOSThread()
	if err := os.Chdir("/"); err != nil {
		return 3
	}
	fmt.Printf("ready %d\n", unix.Gettid())
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return 4
	}
	for _, op := range ops {
		f := strings.Split(op, ":")
		switch f[0] {
		case "openat":
			flags, _ := strconv.Atoi(f[3])
			dirfd, err := unix.Open(f[1], unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				return 5
			}
			if fd, err := unix.Openat(dirfd, f[2], flags, 0o640); err == nil {
				unix.Close(fd)
			}
			unix.Close(dirfd)
		case "open":
			flags, _ := strconv.Atoi(f[2])
			if fd, err := unix.Open(f[1], flags, 0o640); err == nil {
				unix.Close(fd)
			}
		case "loop":
			n, _ := strconv.Atoi(f[1])
			rate := 0
			if len(f) > 3 {
				rate, _ = strconv.Atoi(f[3])
			}
			began := time.Now()
			for i := 0; i < n; i++ {
				if rate > 0 && i%100 == 0 {
					time.Sleep(time.Until(began.Add(time.Duration(i) * time.Second / time.Duration(rate))))
				}
				fd, err := unix.Open(f[2], unix.O_RDONLY, 0)
				if err != nil {
					return 6
				}
				unix.Close(fd)
			}
		default:
			return 2
		}
	}
	return 0
}
