package unlinksnoop

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// helperEnv makes the test binary act as a workload instead of running tests:
// "unlinkat DIR NAME FLAGS" calls unlinkat(open(DIR), NAME, FLAGS) from cwd /.
const helperEnv = "EBTOOLS_UNLINKSNOOP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper(os.Args[1:]))
	}
	time.Local = time.UTC // golden files hold HH:MM:SS
	testutil.Main(m)
}

func helper(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "helper: want DIR NAME FLAGS")
		return 2
	}
	flags, _ := strconv.Atoi(args[2])
	if err := os.Chdir("/"); err != nil {
		return 3
	}
	fd, err := unix.Open(args[0], unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return 4
	}
	if err := unix.Unlinkat(fd, args[1], flags); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	return 0
}
