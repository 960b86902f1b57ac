// Package fspath decodes the paths that bpf/include/path.bpf.h sends for
// the file tools (a filesystem's device and a path inside it, plus the
// argument as given) and renders them as host paths:
//
//	p, err := fspath.Decode(raw, &e.Path)
//	hp.Set(row, colPath, colArg, p) // "/srv/data/f", marked if unresolved
package fspath

import (
	"errors"
	"strconv"
	"unsafe"

	"github.com/ebtools/ebtools/output"
)

// Flags of a path (enum ebt_path_flag in bpf/include/path.h).
const (
	DirCut     = uint32(typesEbtPathFlagEBT_PATH_DIR_CUT)
	Unresolved = uint32(typesEbtPathFlagEBT_PATH_UNRESOLVED)
	Unreadable = uint32(typesEbtPathFlagEBT_PATH_UNREADABLE)
	ArgCut     = uint32(typesEbtPathFlagEBT_PATH_ARG_CUT)
	Deleted    = uint32(typesEbtPathFlagEBT_PATH_DELETED)
	Detached   = uint32(typesEbtPathFlagEBT_PATH_DETACHED)
	Matched    = uint32(typesEbtPathFlagEBT_PATH_MATCHED)
	NoName     = uint32(typesEbtPathFlagEBT_PATH_NO_NAME)
)

// Raw is struct ebt_path as it sits in an event.
type Raw = typesEbtPath

// Text markers for what a path lacks; JSON carries them as booleans.
const (
	markDirCut     = "..."
	markArgCut     = "..."
	markUnresolved = " (unresolved)"
	markUnreadable = "(unreadable)"
	markUnmounted  = " (not mounted on the host)"
	// markDeleted is part of the path in text and JSON alike, as in
	// /proc/PID/exe.
	markDeleted = " (deleted)"
)

// Path is one decoded path. Its slices alias the event record.
type Path struct {
	// FS is the file's path inside its filesystem; for an unresolved
	// argument, the start directory's.
	FS []byte
	// Arg is the path argument exactly as the process passed it (nil
	// for paths that had none).
	Arg   []byte
	Dev   uint32
	Flags uint32
}

var errBounds = errors.New("decode path: beyond the record")

// Decode returns the path p (a struct ebt_path inside raw) describes. A
// zero p is an empty Path.
func Decode[T any](raw []byte, p *T) (Path, error) {
	if unsafe.Sizeof(*p) != unsafe.Sizeof(Raw{}) {
		panic("fspath.Decode: not a struct ebt_path")
	}
	r := (*Raw)(unsafe.Pointer(p))
	fs, err := slice(raw, r.Off, r.Len)
	if err != nil {
		return Path{}, err
	}
	arg, err := slice(raw, r.ArgOff, r.ArgLen)
	if err != nil {
		return Path{}, err
	}
	return Path{FS: fs, Arg: arg, Dev: r.Dev, Flags: r.Flags}, nil
}

func slice(raw []byte, off, n uint16) ([]byte, error) {
	if off == 0 && n == 0 {
		return nil, nil
	}
	if int(off)+int(n) > len(raw) {
		return nil, errBounds
	}
	return raw[off : int(off)+int(n)], nil
}

// Empty reports a path the event does not have.
func (p Path) Empty() bool { return p.FS == nil && p.Arg == nil && p.Flags == 0 }

// Resolved reports whether the path is the file's, as the kernel used it.
func (p Path) Resolved() bool { return p.Flags&(Unresolved|Unreadable) == 0 }

// Truncated reports whether part of the path is missing.
func (p Path) Truncated() bool { return p.Flags&(DirCut|ArgCut) != 0 }

// Host renders paths as host paths. Not safe for concurrent use.
type Host struct {
	mounts *Mounts
	bufs   [4][]byte // one per path of a row
}

// NewHost returns a Host that maps filesystems with m.
func NewHost(m *Mounts) *Host { return &Host{mounts: m} }

// Set puts p into column col (text and JSON) of r as a host path, marked in
// text for whatever is missing or unresolved. slot (0-3) picks the buffer,
// distinct for each path of one row.
func (h *Host) Set(r *output.Row, col, slot int, p Path) {
	b, onHost := h.Append(h.bufs[slot][:0], p)
	h.bufs[slot] = b
	r.Str(col, b, false)
	if pre, suf := marks(p, len(b), onHost); pre != "" || suf != "" {
		r.Mark(col, pre, suf)
	}
}

// Bytes returns what Set last put into column from slot, without markers.
func (h *Host) Bytes(slot int) []byte { return h.bufs[slot] }

// AppendText appends p as Set shows it in text: the host path with its
// markers (not escaped: the formatter escapes the whole value).
func (h *Host) AppendText(dst []byte, p Path) []byte {
	start := len(dst)
	b, onHost := h.Append(dst, p)
	pre, suf := marks(p, len(b)-start, onHost)
	if pre != "" {
		b = append(b, pre...)
		copy(b[start+len(pre):], b[start:len(b)-len(pre)])
		copy(b[start:], pre)
	}
	return append(b, suf...)
}

// marks returns the text markers of p, rendered in n bytes.
func marks(p Path, n int, onHost bool) (pre, suf string) {
	if p.Flags&DirCut != 0 {
		pre = markDirCut
	}
	switch {
	case p.Flags&Unreadable != 0 && n == 0:
		suf = markUnreadable
	case !p.Resolved() && p.Flags&ArgCut != 0:
		suf = markArgCut + markUnresolved
	case !p.Resolved():
		suf = markUnresolved
	case !onHost:
		suf = markUnmounted
	}
	return pre, suf
}

// Append appends the host path of p to dst: the filesystem's mount point
// on the host and the path inside it; for an unresolved argument, the start
// directory's host path joined with the argument as given. It reports
// whether the filesystem is mounted on the host (if not, the path inside
// the filesystem is what is appended).
func (h *Host) Append(dst []byte, p Path) ([]byte, bool) {
	if p.Flags&Detached != 0 {
		// memfd:NAME, anon_inode:...: the name is all there is.
		if len(p.FS) > 0 && p.FS[0] == '/' {
			dst = append(dst, p.FS[1:]...)
		} else {
			dst = append(dst, p.FS...)
		}
		if p.Flags&Deleted != 0 {
			dst = append(dst, markDeleted...)
		}
		return dst, true
	}
	onHost := true
	start := len(dst)
	switch {
	case p.FS == nil:
	case p.Flags&DirCut != 0:
		// The top is missing: the path does not start at the
		// filesystem's root, so where it is mounted says nothing.
		dst = append(dst, p.FS...)
	default:
		dst, onHost = h.mounts.Host(dst, p.Dev, p.FS)
		if !onHost {
			dst = append(dst, p.FS...)
		}
	}
	if !p.Resolved() && len(p.Arg) > 0 {
		// An absolute argument started at the root, "/" or a chroot's.
		slash := len(dst) > start && dst[len(dst)-1] == '/'
		switch {
		case len(dst) == start:
		case p.Arg[0] == '/' && slash:
			dst = dst[:len(dst)-1]
		case p.Arg[0] != '/' && !slash:
			dst = append(dst, '/')
		}
		dst = append(dst, p.Arg...)
	}
	if p.Flags&Deleted != 0 {
		dst = append(dst, markDeleted...)
	}
	return dst, onHost
}

// AppendDev appends a device in the kernel's encoding as "MAJOR:MINOR".
func AppendDev(dst []byte, dev uint32) []byte {
	dst = strconv.AppendUint(dst, uint64(dev>>20), 10)
	dst = append(dst, ':')
	return strconv.AppendUint(dst, uint64(dev&(1<<20-1)), 10)
}
