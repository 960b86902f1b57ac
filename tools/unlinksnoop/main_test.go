package unlinksnoop

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// helperEnv makes the test binary act as a workload instead of running
// tests. Its arguments are operations, fields separated by "|", done in
// order (from cwd / unless "cd" says otherwise):
//
//	cd|DIR  chroot|DIR  unlink|PATH  rmdir|PATH  rename|OLD|NEW
//	unlinkat|DIR|NAME|FLAGS  renameat2|OLD|NEW|FLAGS
//
// An operation may fail (the tests look at failed calls too); the helper
// goes on.
const helperEnv = "EBTOOLS_UNLINKSNOOP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper(os.Args[1:]))
	}
	time.Local = time.UTC // golden files hold HH:MM:SS
	testutil.Main(m)
}

func helper(ops []string) int {
	if err := os.Chdir("/"); err != nil {
		return 3
	}
	for _, op := range ops {
		f := strings.Split(op, "|")
		var err error
		switch {
		case f[0] == "cd" && len(f) == 2:
			err = os.Chdir(f[1])
		case f[0] == "chroot" && len(f) == 2:
			if err = syscall.Chroot(f[1]); err == nil {
				err = os.Chdir("/")
			}
		case f[0] == "unlink" && len(f) == 2:
			err = unix.Unlink(f[1])
		case f[0] == "rmdir" && len(f) == 2:
			err = unix.Rmdir(f[1])
		case f[0] == "rename" && len(f) == 3:
			err = unix.Rename(f[1], f[2])
		case f[0] == "unlinkat" && len(f) == 4:
			flags, _ := strconv.Atoi(f[3])
			var fd int
			if fd, err = unix.Open(f[1], unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
				err = unix.Unlinkat(fd, f[2], flags)
				unix.Close(fd)
			}
		case f[0] == "renameat2" && len(f) == 4:
			flags, _ := strconv.Atoi(f[3])
			err = unix.Renameat2(unix.AT_FDCWD, f[1], unix.AT_FDCWD, f[2], uint(flags))
		default:
			fmt.Fprintf(os.Stderr, "helper: bad operation %q\n", op)
			return 2
		}
		if err != nil && (f[0] == "cd" || f[0] == "chroot") {
			fmt.Fprintf(os.Stderr, "helper: %s: %v\n", op, err)
			return 4
		}
	}
	return 0
}
