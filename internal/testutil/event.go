package testutil

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"
)

// Comm returns s as the kernel stores a comm: 15 bytes at most and a NUL.
func Comm(s string) (c [16]int8) {
	for i := 0; i < len(s) && i < len(c)-1; i++ {
		c[i] = int8(s[i])
	}
	return c
}

// Record returns the bytes of hdr followed by tail, as a BPF program sends
// an event header (a bpf2go -type struct) and its variable part.
func Record[T any](hdr T, tail []byte) []byte {
	n := int(unsafe.Sizeof(hdr))
	b := make([]byte, n+len(tail))
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&hdr)), n))
	copy(b[n:], tail)
	return b
}

// TaskRecord is Record with task (a tools.Task) written over the start of
// hdr, where every event tool's event has it.
func TaskRecord[K, T any](task K, hdr T, tail []byte) []byte {
	b := Record(hdr, tail)
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&task)), unsafe.Sizeof(task)))
	return b
}

// Inode returns the inode number of path (a cgroup v2 directory's is its id).
func Inode(t testing.TB, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// HostMountinfo is the mount table of the test host that golden files
// assume: one ext4 root filesystem, device 254:0.
const HostMountinfo = "27 1 254:0 / / rw - ext4 /dev/vda rw\n"

// RootDev is HostMountinfo's root device in the kernel's encoding.
const RootDev = 254 << 20

// TempFile writes content to a new file in t's temporary directory and
// returns its path.
func TempFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
