package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
)

// TestMakeBuildIsStatic: `make build`, the README's build command, gives a
// binary with no ELF interpreter and no shared libraries, which runs on
// any Linux of its architecture (older glibc, musl).
//
// Where the tests run a prebuilt binary (EBTOOLS_BINARY, as in the test
// kernel's guest, which has no toolchain) that one is checked instead.
func TestMakeBuildIsStatic(t *testing.T) {
	bin := os.Getenv("EBTOOLS_BINARY")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "ebtools")
		cmd := exec.Command("make", "-s", "build", "BIN="+bin)
		cmd.Dir = testutil.ModuleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make build: %v\n%s", err, out)
		}
	} else {
		t.Logf("checking EBTOOLS_BINARY=%s", bin)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("make build gives a dynamically linked binary (it has an ELF interpreter)")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("make build gives a binary that needs %v (%v)", libs, err)
	}
}
