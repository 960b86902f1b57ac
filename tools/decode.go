package tools

import (
	"bytes"
	"fmt"
	"unsafe"

	ebrt "github.com/ebtools/ebtools/runtime"
)

// Malformed wraps a decode error so that the runtime drops that one event
// and reports it, instead of ending the tool.
func Malformed(err error) error { return fmt.Errorf("%w: %w", ebrt.ErrMalformed, err) }

// Header returns the fixed-size event header T (a bpf2go -type struct) at
// the start of raw, aliasing it, or nil when raw is too short. Events are
// in the host's byte order, as the objects are built per endianness.
func Header[T any](raw []byte) *T {
	var zero T
	if len(raw) < int(unsafe.Sizeof(zero)) {
		return nil
	}
	return (*T)(unsafe.Pointer(&raw[0]))
}

// Comm returns a task comm field up to its NUL.
func Comm(c *[16]int8) []byte {
	return CString(unsafe.Slice((*byte)(unsafe.Pointer(&c[0])), len(c)))
}

// CString returns b up to its first NUL.
func CString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
