package testutil

import "unsafe"

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
