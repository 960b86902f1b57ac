package opensnoop

import (
	"bytes"
	"errors"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

const eventSize = int(unsafe.Sizeof(opensnoopEvent{}))

var errShort = errors.New("decode opensnoop event: record shorter than its header")

// decode returns the event header and its path, both aliasing raw.
func decode(raw []byte) (*opensnoopEvent, fspath.Path, error) {
	e := tools.Header[opensnoopEvent](raw)
	if e == nil {
		return nil, fspath.Path{}, errShort
	}
	p, err := fspath.Decode(raw[eventSize:], e.PathLen, e.ArgOff, e.PathFlags)
	return e, p, err
}

// Column indexes into columns().
const (
	colUID = iota
	colPID
	colComm
	colFD
	colErr
	colFlags
	colMode
	colPath
	colTID
	colRet
	colError
	colFlagsNum
	colModeNum
	colSyscall
	colArg
	colDirfd
	colResolved
	colTruncated
)

// columns is opensnoop's output, as libbpf-tools' opensnoop in text.
func columns(cfg config) []output.Column {
	hdr := func(on bool, h string) string {
		if on {
			return h
		}
		return ""
	}
	return []output.Column{
		colUID:       {Header: hdr(cfg.printUID, "UID"), Key: "uid", Width: 7},
		colPID:       {Header: "PID", Key: "pid", Width: 6},
		colComm:      {Header: "COMM", Key: "comm", Width: 16},
		colFD:        {Header: "FD", Key: "fd", Width: 3, Align: output.Right},
		colErr:       {Header: "ERR", Width: 3, Align: output.Right},
		colFlags:     {Header: hdr(cfg.extended, "FLAGS"), Width: 8},
		colMode:      {Header: hdr(cfg.extended, "MODE"), Width: 4},
		colPath:      {Header: "PATH", Key: "path"},
		colTID:       {Key: "tid"},
		colRet:       {Key: "ret"},
		colError:     {Key: "error"},
		colFlagsNum:  {Key: "flags"},
		colModeNum:   {Key: "mode"},
		colSyscall:   {Key: "syscall"},
		colArg:       {Key: "arg"},
		colDirfd:     {Key: "dirfd"},
		colResolved:  {Key: "path_resolved"},
		colTruncated: {Key: "path_truncated"},
	}
}

// Names of opensnoopEvent.Syscall (enum opensnoop_syscall).
var syscalls = [...]string{"open", "openat", "openat2"}

const atFDCWD = -100

type handler struct {
	cfg config
	tools.Printer
	flags, mode []byte // octal text, reused
}

func newHandler(cfg config, format output.Format, out *output.Writer, clock *output.Clock) *handler {
	return &handler{
		cfg:     cfg,
		Printer: tools.NewPrinter(out, format, columns(cfg), output.Options{Time: cfg.time, Clock: clock}),
	}
}

// Event implements runtime.Handler.
func (h *handler) Event(raw []byte) error {
	e, p, err := decode(raw)
	if err != nil {
		return tools.Malformed(err)
	}
	comm := tools.Comm(&e.Comm)
	if h.cfg.name != nil && !bytes.Contains(comm, h.cfg.name) {
		return nil
	}
	r := h.Row
	r.Reset(e.KtimeNs)
	r.Uint(colUID, uint64(e.Uid))
	r.Uint(colPID, uint64(e.Pid))
	r.Str(colComm, comm, false)
	fd, errno := int64(e.Ret), int64(0)
	if e.Ret < 0 {
		fd, errno = -1, int64(-e.Ret)
		if name := output.ErrnoName(int(errno)); name != "" {
			r.Text(colError, name)
		}
	}
	r.Int(colFD, fd)
	r.Int(colErr, errno)
	r.Int(colRet, int64(e.Ret))
	h.flags = appendOctal(h.flags[:0], e.Flags, 8)
	r.Str(colFlags, h.flags, false)
	r.Uint(colFlagsNum, e.Flags)
	if e.Flags&(unix.O_CREAT|unix.O_TMPFILE&^unix.O_DIRECTORY) != 0 {
		h.mode = appendOctal(h.mode[:0], uint64(e.Mode), 4)
		r.Str(colMode, h.mode, false)
		r.Uint(colModeNum, uint64(e.Mode))
	}
	p.Set(r, colPath)
	r.Uint(colTID, uint64(e.Tid))
	if int(e.Syscall) < len(syscalls) {
		r.Text(colSyscall, syscalls[e.Syscall])
	}
	r.Str(colArg, p.Arg, p.Flags&fspath.ArgCut != 0)
	if e.Dirfd != atFDCWD {
		r.Int(colDirfd, int64(e.Dirfd))
	}
	r.Bool(colResolved, p.Resolved())
	r.Bool(colTruncated, p.Truncated())
	return h.Print()
}

// appendOctal appends v in octal, zero-padded to width digits.
func appendOctal(b []byte, v uint64, width int) []byte {
	start := len(b)
	b = strconv.AppendUint(b, v, 8)
	for len(b)-start < width {
		b = append(b, '0')
		copy(b[start+1:], b[start:len(b)-1])
		b[start] = '0'
	}
	return b
}
