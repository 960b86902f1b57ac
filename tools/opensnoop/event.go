package opensnoop

import (
	"errors"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
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
	p, err := fspath.Decode(raw, &e.Path)
	return e, p, err
}

// Column indexes of opensnoop's own columns.
const (
	colFD = tools.NumTaskCols + iota
	colErr
	colFlags
	colMode
	colPath
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
var columns = tools.Columns(
	output.Column{Header: "FD", Key: "fd", Width: 3, Align: output.Right},
	output.Column{Header: "ERR", Width: 3, Align: output.Right},
	output.Column{Header: "FLAGS", Width: 8},
	output.Column{Header: "MODE", Width: 4},
	output.Column{Header: "PATH", Key: "path"},
	output.Column{Key: "ret"},
	output.Column{Key: "error"},
	output.Column{Key: "flags"},
	output.Column{Key: "mode"},
	output.Column{Key: "syscall"},
	output.Column{Key: "arg"},
	output.Column{Key: "dirfd"},
	output.Column{Key: "path_resolved"},
	output.Column{Key: "path_truncated"},
)

// opensTotal is opensnoop's own metric (--metrics).
var opensTotal = &metrics.Metric{Name: "opens_total", Help: "Opens traced, by result: ok or the errno name.", Labels: []string{"result"}}

// Names of opensnoopEvent.Syscall (enum opensnoop_syscall).
var syscalls = [...]string{"open", "openat", "openat2"}

const atFDCWD = -100

// events is opensnoop for the spine: PID COMM FD ERR [FLAGS MODE] PATH.
func (c *config) events(prog ebrt.Program) tools.Events {
	layout := []int{tools.ColPID, tools.ColComm, colFD, colErr, colPath}
	if c.extended {
		layout = []int{tools.ColPID, tools.ColComm, colFD, colErr, colFlags, colMode, colPath}
	}
	var flags, mode []byte // octal text, reused
	host := c.host
	if host == nil {
		host = fspath.NewHost(fspath.NewMounts(""))
	}
	return tools.Events{
		Program:   prog,
		Task:      &c.task,
		Lineage:   c.task.PrintLineage,
		Constants: c.constants(),
		Columns:   columns,
		Layout:    layout,
		Metrics:   []*metrics.Metric{opensTotal},
		Measure: func(m *metrics.Meter, raw []byte) {
			m.Add(opensTotal, 1, tools.ResultLabel(int64(tools.Header[opensnoopEvent](raw).Ret)))
		},
		Fill: func(r *output.Row, raw []byte) (bool, error) {
			e, p, err := decode(raw)
			if err != nil {
				return false, tools.Malformed(err)
			}
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
			if r.Wants(colFlags) {
				flags = appendOctal(flags[:0], e.Flags, 8)
				r.Str(colFlags, flags, false)
			}
			r.Uint(colFlagsNum, e.Flags)
			if e.Flags&(unix.O_CREAT|unix.O_TMPFILE&^unix.O_DIRECTORY) != 0 {
				if r.Wants(colMode) {
					mode = appendOctal(mode[:0], uint64(e.Mode), 4)
					r.Str(colMode, mode, false)
				}
				r.Uint(colModeNum, uint64(e.Mode))
			}
			if c.fullPath {
				host.Set(r, colPath, 0, p)
			} else {
				setArgPath(r, colPath, p)
			}
			if int(e.Syscall) < len(syscalls) {
				r.Text(colSyscall, syscalls[e.Syscall])
			}
			r.Str(colArg, p.Arg, p.Flags&fspath.ArgCut != 0)
			if e.Dirfd != atFDCWD {
				r.Int(colDirfd, int64(e.Dirfd))
			}
			r.Bool(colResolved, c.fullPath && p.Resolved())
			r.Bool(colTruncated, p.Truncated())
			return true, nil
		},
	}
}

// setArgPath puts the argument as given into column col, marked in text
// when it could not be read or was cut.
func setArgPath(r *output.Row, col int, p fspath.Path) {
	r.Str(col, p.Arg, p.Flags&fspath.ArgCut != 0)
	if p.Flags&fspath.Unreadable != 0 {
		r.Mark(col, "", "(unreadable)")
	}
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
