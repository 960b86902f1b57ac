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
	switch os.Getenv(helperEnv) {
	case "fexecve":
		fexecve("/bin/echo", []string{"echo", "via-fexecve"})
		os.Exit(111) // only reached if the exec failed
	case "memfd":
		memfdExec("/bin/echo", "sshd", []string{"sshd", "via-memfd"})
		os.Exit(111)
	}
	time.Local = time.UTC // golden files hold HH:MM:SS
	testutil.Main(m)
}

// memfdExec copies the executable at path into a memfd called name and
// runs it from there, as fileless malware does.
func memfdExec(path, name string, argv []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	fd, err := unix.MemfdCreate(name, 0)
	if err != nil {
		return
	}
	if _, err := unix.Write(fd, b); err != nil {
		return
	}
	execveat(fd, argv)
}

// fexecve runs path the way fexecve(3) does: execveat(fd, "", argv, envp,
// AT_EMPTY_PATH).
func fexecve(path string, argv []string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	execveat(fd, argv)
}

// execveat runs the file open as fd: execveat(fd, "", argv, envp, AT_EMPTY_PATH).
func execveat(fd int, argv []string) {
	empty, _ := syscall.BytePtrFromString("")
	argvp, _ := syscall.SlicePtrFromStrings(argv)
	envp, _ := syscall.SlicePtrFromStrings(nil)
	unix.Syscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
}
