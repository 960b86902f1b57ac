package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestbinEnv names the directory of prebuilt C workloads in a test-kernels
// guest, which has no compiler: internal/kerneltest/run.sh builds every
// testdata/*.c of the module for the guest's architecture, the same way
// CBinary does, to DIR/<its path in the module without .c> (BPF sources,
// *.bpf.c, are not workloads).
const TestbinEnv = "EBTOOLS_TESTBIN_DIR"

var cbuild struct {
	mu   sync.Mutex
	dir  string
	done map[string]cresult
}

type cresult struct {
	path string
	err  error
}

// CBinary returns a C workload built from src (a .c file; a relative path
// is relative to the directory of the test file that calls CBinary, the
// package's directory) by the host's cc as a static binary with -O2, once
// per test process, in a world-readable temporary directory that Main
// removes. Where TestbinEnv is set (a test-kernels guest) it returns the
// binary built in advance for that machine instead.
//
//	bin := testutil.CBinary(t, "testdata/forkexec.c")
func CBinary(t testing.TB, src string) string {
	t.Helper()
	if !filepath.IsAbs(src) {
		_, file, _, _ := runtime.Caller(1)
		src = filepath.Join(filepath.Dir(file), src)
	}
	if !strings.HasSuffix(src, ".c") {
		t.Fatalf("CBinary %s: want a .c file", src)
	}
	if dir := os.Getenv(TestbinEnv); dir != "" {
		return prebuilt(t, dir, src)
	}
	cbuild.mu.Lock()
	defer cbuild.mu.Unlock()
	r, ok := cbuild.done[src]
	if !ok {
		r = compileC(src)
		if cbuild.done == nil {
			cbuild.done = map[string]cresult{}
		}
		cbuild.done[src] = r
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// prebuilt returns src's binary under dir, where run.sh put it: the path
// of src in the module (as this binary was compiled) without ".c".
func prebuilt(t testing.TB, dir, src string) string {
	t.Helper()
	rel, err := filepath.Rel(moduleRoot(), src)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("CBinary %s: not in the module at %s, so %s has no binary for it", src, moduleRoot(), TestbinEnv)
	}
	path := filepath.Join(dir, strings.TrimSuffix(rel, ".c"))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("CBinary %s: no prebuilt binary (%s=%s; run.sh builds testdata/*.c only): %v", rel, TestbinEnv, dir, err)
	}
	return path
}

// compileC builds src into the process's C binary directory; the caller
// holds cbuild.mu.
func compileC(src string) cresult {
	if cbuild.dir == "" {
		dir, err := os.MkdirTemp("", "ebtools-cbin-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err != nil {
			return cresult{err: fmt.Errorf("make C binary directory: %w", err)}
		}
		cbuild.dir = dir
	}
	// The binary keeps the source's name, which is its comm; sources of one
	// name in different directories each get a directory of their own.
	sub := filepath.Join(cbuild.dir, fmt.Sprint(len(cbuild.done)))
	if err := os.Mkdir(sub, 0o755); err != nil {
		return cresult{err: fmt.Errorf("make C binary directory: %w", err)}
	}
	out := filepath.Join(sub, strings.TrimSuffix(filepath.Base(src), ".c"))
	cmd := exec.Command("cc", "-static", "-O2", "-Wall", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return cresult{err: fmt.Errorf("compile %s: %v\n%s", src, err, b)}
	}
	return cresult{path: out}
}
