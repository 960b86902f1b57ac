package execsnoop

import (
	"bytes"
	"errors"
	"unsafe"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

// Flags of execsnoopEvent.Flags (enum execsnoop_flag in bpf/execsnoop.h).
const (
	flagMoreArgs = 1 << 0
	flagExecveat = 1 << 1
)

const eventSize = int(unsafe.Sizeof(execsnoopEvent{}))

var (
	errShort    = errors.New("decode execsnoop event: record shorter than its header")
	errArgsSize = errors.New("decode execsnoop event: args_size beyond the record")
)

// decode returns the event header in raw and the NUL-separated strings after
// it. Both alias raw. A perf buffer record may carry trailing padding, so
// args_size, not len(raw), bounds the strings.
func decode(raw []byte) (*execsnoopEvent, []byte, error) {
	e := tools.Header[execsnoopEvent](raw)
	if e == nil {
		return nil, nil, errShort
	}
	n := int(e.ArgsSize)
	if n > len(raw)-eventSize {
		return nil, nil, errArgsSize
	}
	return e, raw[eventSize : eventSize+n], nil
}

// Column indexes into columns().
const (
	colUID = iota
	colComm
	colPID
	colPPID
	colRet
	colArgsText
	colTID
	colSyscall
	colFilename
	colArgs
	colTruncated
)

// columns is execsnoop's output, as libbpf-tools' execsnoop in text (ARGS is
// the filename, then argv[1:]) and with argv whole in JSON.
func columns(cfg config) []output.Column {
	uid := ""
	if cfg.printUID {
		uid = "UID"
	}
	return []output.Column{
		colUID:       {Header: uid, Key: "uid", Width: 6},
		colComm:      {Header: "PCOMM", Key: "comm", Width: 16},
		colPID:       {Header: "PID", Key: "pid", Width: 6},
		colPPID:      {Header: "PPID", Key: "ppid", Width: 6},
		colRet:       {Header: "RET", Key: "ret", Width: 3, Align: output.Right},
		colArgsText:  {Header: "ARGS", Quote: cfg.quote},
		colTID:       {Key: "tid"},
		colSyscall:   {Key: "syscall"},
		colFilename:  {Key: "filename"},
		colArgs:      {Key: "args"},
		colTruncated: {Key: "args_truncated"},
	}
}

var (
	sysExecve   = []byte("execve")
	sysExecveat = []byte("execveat")
)

// handler turns raw events into rows; it is the runtime's Handler.
type handler struct {
	cfg config
	tools.Printer
	joined []byte // scratch for -l matching
}

func newHandler(cfg config, format output.Format, out *output.Writer, clock *output.Clock) *handler {
	return &handler{
		cfg:     cfg,
		Printer: tools.NewPrinter(out, format, columns(cfg), output.Options{Time: cfg.time, Clock: clock}),
	}
}

// Event implements runtime.Handler.
func (h *handler) Event(raw []byte) error {
	e, args, err := decode(raw)
	if err != nil {
		return tools.Malformed(err)
	}
	comm := tools.Comm(&e.Comm)
	if h.cfg.name != nil && !bytes.Contains(comm, h.cfg.name) {
		return nil
	}
	if h.cfg.line != nil && !h.argsContain(args) {
		return nil
	}

	r := h.Row
	r.Reset(e.KtimeNs)
	r.Uint(colUID, uint64(e.Uid))
	r.Str(colComm, comm, false)
	r.Uint(colPID, uint64(e.Pid))
	r.Uint(colPPID, uint64(e.Ppid))
	r.Int(colRet, int64(e.Retval))
	r.Uint(colTID, uint64(e.Tid))
	if e.Flags&flagExecveat != 0 {
		r.Str(colSyscall, sysExecveat, false)
	} else {
		r.Str(colSyscall, sysExecve, false)
	}

	truncated := e.Flags&flagMoreArgs != 0
	var filename []byte
	for i, rest := 0, args; len(rest) > 0; i++ {
		s := tools.CString(rest)
		rest = rest[min(len(s)+1, len(rest)):]
		cut := i < 64 && e.CutMask&(1<<uint(i)) != 0
		truncated = truncated || cut
		switch {
		case i == 0:
			filename = s
			r.Str(colFilename, s, cut)
			if len(s) > 0 {
				r.Item(colArgsText, s, cut)
			}
		case i == 1:
			r.Item(colArgs, s, cut)
			// execveat(fd, "", argv, AT_EMPTY_PATH) has no filename to show.
			if len(filename) == 0 {
				r.Item(colArgsText, s, cut)
			}
		default:
			r.Item(colArgs, s, cut)
			r.Item(colArgsText, s, cut)
		}
	}
	if e.Flags&flagMoreArgs != 0 {
		r.More(colArgsText)
		r.More(colArgs)
	}
	r.Bool(colTruncated, truncated)
	return h.Print()
}

// argsContain reports whether the filename and argv, joined by spaces,
// contain cfg.line.
func (h *handler) argsContain(args []byte) bool {
	h.joined = append(h.joined[:0], bytes.TrimSuffix(args, []byte{0})...)
	for i, c := range h.joined {
		if c == 0 {
			h.joined[i] = ' '
		}
	}
	return bytes.Contains(h.joined, h.cfg.line)
}
