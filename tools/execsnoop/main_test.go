package execsnoop

import (
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
)

// helperEnv makes the test binary act as a workload instead of running tests.
const helperEnv = "EBTOOLS_EXECSNOOP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "fexecve" {
		fexecve("/bin/echo", []string{"echo", "via-fexecve"})
		os.Exit(111) // only reached if the exec failed
	}
	time.Local = time.UTC // golden files hold HH:MM:SS
	testutil.Main(m)
}

// fexecve runs path the way fexecve(3) does: execveat(fd, "", argv, envp,
// AT_EMPTY_PATH).
func fexecve(path string, argv []string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	empty, _ := syscall.BytePtrFromString("")
	argvp, _ := syscall.SlicePtrFromStrings(argv)
	envp, _ := syscall.SlicePtrFromStrings(nil)
	unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
}
