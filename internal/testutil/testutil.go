// Package testutil helps ebtools tests run the real binary as a user would.
//
//	func TestMain(m *testing.M) { testutil.Main(m) }
//
//	func TestX(t *testing.T) {
//		testutil.RequirePrivileged(t)
//		p := testutil.Start(t, "execsnoop", "-P", strconv.Itoa(os.Getpid()))
//		... run a workload ...
//		line := p.WaitLine(t, func(l string) bool { return strings.Contains(l, "true") })
//	}
package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// RequirePrivileged skips t unless it runs as root. With
// EBTOOLS_REQUIRE_PRIVILEGED=1 (as in CI) it fails instead of skipping, so
// privileged tests cannot silently stop running.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("EBTOOLS_REQUIRE_PRIVILEGED") == "1" {
		t.Fatal("this test needs root, and EBTOOLS_REQUIRE_PRIVILEGED=1 forbids skipping it")
	}
	t.Skip("needs root (set EBTOOLS_REQUIRE_PRIVILEGED=1 to make this a failure)")
}

var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary builds cmd/ebtools once per test process and returns its path. The
// directory is world-readable so tests can run it as another user. Where
// there is no Go toolchain (a test kernel's initramfs), EBTOOLS_BINARY names
// a prebuilt binary instead.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("EBTOOLS_BINARY"); p != "" {
		return p
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "ebtools-test-")
		if build.err != nil {
			return
		}
		if build.err = os.Chmod(build.dir, 0o755); build.err != nil {
			return
		}
		build.path = filepath.Join(build.dir, "ebtools")
		// As `make build` does: the static binary that ships.
		cmd := exec.Command("go", "build", "-o", build.path, "github.com/ebtools/ebtools/cmd/ebtools")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/ebtools: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// Main runs the tests and removes what Binary and CBinary built.
func Main(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	if cbuild.dir != "" {
		os.RemoveAll(cbuild.dir)
	}
	os.Exit(code)
}

// ModuleRoot returns the directory of the ebtools module (where the
// Makefile and README are).
func ModuleRoot() string { return moduleRoot() }

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
