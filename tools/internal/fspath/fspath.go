// Package fspath decodes the paths that bpf/include/path.bpf.h sends for
// the file tools and puts them into output rows:
//
//	p, err := fspath.Decode(raw[hdr:], e.PathLen, e.ArgOff, e.PathFlags)
//	p.SetText(row, colPath)   // absolute path with markers for what is missing
package fspath

import (
	"errors"

	"github.com/ebtools/ebtools/output"
)

// Flags of a path (enum ebt_path_flag in bpf/include/path.h).
const (
	// DirCut: the directory was deeper than the kernel-side walk; the
	// path lacks its top.
	DirCut = 1 << 0
	// Unresolved: the dirfd (or cwd) could not be resolved; the path is the
	// argument as given.
	Unresolved = 1 << 1
	// Unreadable: the argument could not be read from the process.
	Unreadable = 1 << 2
	// ArgCut: the argument was PATH_MAX bytes or longer and was cut.
	ArgCut = 1 << 3
)

// Text markers for what a path lacks; JSON carries the flags as booleans.
const (
	markDirCut     = "..."
	markArgCut     = "..."
	markUnresolved = " (unresolved)"
	markUnreadable = "(unreadable)"
)

// Path is one decoded path. Its slices alias the event record.
type Path struct {
	// Full is the path as printed: absolute unless Unresolved or Unreadable.
	Full []byte
	// Arg is the path argument exactly as the process passed it.
	Arg   []byte
	Flags uint32
}

var (
	errLen    = errors.New("decode path: length beyond the record")
	errArgOff = errors.New("decode path: argument offset beyond the path")
)

// Decode returns the path of length n at the start of b whose argument
// starts at argOff.
func Decode(b []byte, n, argOff uint16, flags uint32) (Path, error) {
	if int(n) > len(b) {
		return Path{}, errLen
	}
	if argOff > n {
		return Path{}, errArgOff
	}
	return Path{Full: b[:n], Arg: b[argOff:n], Flags: flags}, nil
}

// Resolved reports whether Full is the absolute path the kernel used.
func (p Path) Resolved() bool { return p.Flags&(Unresolved|Unreadable) == 0 }

// Truncated reports whether part of the path is missing.
func (p Path) Truncated() bool { return p.Flags&(DirCut|ArgCut) != 0 }

// Set puts the path into column col of r, marked in text for whatever is
// missing or unresolved.
func (p Path) Set(r *output.Row, col int) {
	r.Str(col, p.Full, p.Flags&ArgCut != 0)
	var pre, suf string
	if p.Flags&DirCut != 0 {
		pre = markDirCut
	}
	switch {
	case p.Flags&Unreadable != 0 && len(p.Full) == 0:
		suf = markUnreadable
	case p.Flags&(Unresolved|Unreadable) != 0:
		suf = markUnresolved
	}
	if pre != "" || suf != "" {
		r.Mark(col, pre, suf)
	}
}
