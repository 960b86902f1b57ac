package unlinksnoop

import (
	"bytes"
	"errors"
	"unsafe"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

const eventSize = int(unsafe.Sizeof(unlinksnoopEvent{}))

var errShort = errors.New("decode unlinksnoop event: record shorter than its header")

// decode returns the event header and its path, both aliasing raw.
func decode(raw []byte) (*unlinksnoopEvent, fspath.Path, error) {
	e := tools.Header[unlinksnoopEvent](raw)
	if e == nil {
		return nil, fspath.Path{}, errShort
	}
	p, err := fspath.Decode(raw[eventSize:], e.PathLen, e.ArgOff, e.PathFlags)
	return e, p, err
}

// Column indexes into columns().
const (
	colPID = iota
	colPPID
	colComm
	colPComm
	colUID
	colOp
	colResult
	colPath
	colTID
	colSyscall
	colRet
	colError
	colArg
	colDirfd
	colResolved
	colTruncated
)

// columns: TIME (added by output) PID PPID COMM PCOMM UID OP RESULT PATH;
// PATH last so that a grep for a file name matches the whole path.
var columns = []output.Column{
	colPID:       {Header: "PID", Key: "pid", Width: 7},
	colPPID:      {Header: "PPID", Key: "ppid", Width: 7},
	colComm:      {Header: "COMM", Key: "comm", Width: 16},
	colPComm:     {Header: "PCOMM", Key: "pcomm", Width: 16},
	colUID:       {Header: "UID", Key: "uid", Width: 6},
	colOp:        {Header: "OP", Key: "op", Width: 6},
	colResult:    {Header: "RESULT", Width: output.ErrnoWidth},
	colPath:      {Header: "PATH", Key: "path"},
	colTID:       {Key: "tid"},
	colSyscall:   {Key: "syscall"},
	colRet:       {Key: "ret"},
	colError:     {Key: "error"},
	colArg:       {Key: "arg"},
	colDirfd:     {Key: "dirfd"},
	colResolved:  {Key: "path_resolved"},
	colTruncated: {Key: "path_truncated"},
}

// Names of unlinksnoopEvent.Syscall (enum unlinksnoop_syscall).
var syscalls = [...]string{"unlink", "unlinkat", "rmdir"}

const atFDCWD = -100

type handler struct {
	cfg config
	tools.Printer
}

func newHandler(cfg config, format output.Format, out *output.Writer, clock *output.Clock) *handler {
	return &handler{
		cfg:     cfg,
		Printer: tools.NewPrinter(out, format, columns, output.Options{Time: cfg.time, Clock: clock}),
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
	if h.cfg.prefix != nil && (!p.Resolved() || !under(p.Full, h.cfg.prefix)) {
		return nil
	}
	r := h.Row
	r.Reset(e.KtimeNs)
	r.Uint(colPID, uint64(e.Pid))
	r.Uint(colPPID, uint64(e.Ppid))
	r.Str(colComm, comm, false)
	r.Str(colPComm, tools.Comm(&e.Pcomm), false)
	r.Uint(colUID, uint64(e.Uid))
	if e.Rmdir != 0 {
		r.Text(colOp, "rmdir")
	} else {
		r.Text(colOp, "unlink")
	}
	r.Int(colRet, int64(e.Ret))
	if e.Ret < 0 {
		name := output.ErrnoName(int(-e.Ret))
		if name == "" {
			r.Int(colResult, int64(e.Ret))
		} else {
			r.Text(colResult, name)
			r.Text(colError, name)
		}
	} else {
		r.Int(colResult, int64(e.Ret))
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
