package unlinksnoop

import (
	"errors"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

var errShort = errors.New("decode unlinksnoop event: record shorter than its header")

// paths are an event's paths, aliasing the record.
type paths struct {
	old, new, root fspath.Path
}

// decode returns the event header and its paths.
func decode(raw []byte) (*unlinksnoopEvent, paths, error) {
	var p paths
	e := tools.Header[unlinksnoopEvent](raw)
	if e == nil {
		return nil, p, errShort
	}
	var err error
	if p.old, err = fspath.Decode(raw, &e.Path); err != nil {
		return nil, p, err
	}
	if p.new, err = fspath.Decode(raw, &e.NewPath); err != nil {
		return nil, p, err
	}
	if p.root, err = fspath.Decode(raw, &e.Root); err != nil {
		return nil, p, err
	}
	return e, p, nil
}

// Column indexes of unlinksnoop's own columns.
const (
	colOp = tools.NumTaskCols + iota
	colResult
	colPathText
	colPath
	colNewPath
	colRoot
	colSyscall
	colRet
	colError
	colArg
	colNewArg
	colDirfd
	colNewDirfd
	colReplaced
	colResolved
	colTruncated
	colNewResolved
	colNewTruncated
)

// columns: TIME (added by output) PID PPID COMM PCOMM UID OP RESULT PATH;
// PATH last so that a grep for a file name matches the whole path. A
// rename's PATH is "old -> new".
var columns = tools.Columns(
	output.Column{Header: "OP", Key: "op", Width: 6},
	output.Column{Header: "RESULT", Width: output.ErrnoWidth},
	output.Column{Header: "PATH"},
	output.Column{Key: "path"},
	output.Column{Key: "new_path"},
	output.Column{Key: "root"},
	output.Column{Key: "syscall"},
	output.Column{Key: "ret"},
	output.Column{Key: "error"},
	output.Column{Key: "arg"},
	output.Column{Key: "new_arg"},
	output.Column{Key: "dirfd"},
	output.Column{Key: "new_dirfd"},
	output.Column{Key: "replaced"},
	output.Column{Key: "path_resolved"},
	output.Column{Key: "path_truncated"},
	output.Column{Key: "new_path_resolved"},
	output.Column{Key: "new_path_truncated"},
)

// Names of unlinksnoopEvent.Syscall and .Op (bpf/unlinksnoop.h).
var (
	syscalls = [...]string{
		unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_UNLINK:    "unlink",
		unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_UNLINKAT:  "unlinkat",
		unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_RMDIR:     "rmdir",
		unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_RENAME:    "rename",
		unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_RENAMEAT:  "renameat",
		unlinksnoopUnlinksnoopSyscallUNLINKSNOOP_RENAMEAT2: "renameat2",
	}
	ops = [...]string{
		unlinksnoopUnlinksnoopOpUNLINKSNOOP_OP_UNLINK: "unlink",
		unlinksnoopUnlinksnoopOpUNLINKSNOOP_OP_RMDIR:  "rmdir",
		unlinksnoopUnlinksnoopOpUNLINKSNOOP_OP_RENAME: "rename",
	}
)

// operations is unlinksnoop's own metric (--metrics).
var operations = &metrics.Metric{Name: "operations_total", Help: "Deletions and renames traced, by op (unlink, rmdir, rename) and result: ok or the errno name.",
	Labels: []string{"op", "result"}}

const (
	atFDCWD  = -100
	opRename = uint8(unlinksnoopUnlinksnoopOpUNLINKSNOOP_OP_RENAME)
)

// events is unlinksnoop for the spine.
func (c *config) events(prog ebrt.Program) tools.Events {
	f := &filler{cfg: c, host: c.host}
	if f.host == nil {
		f.host = fspath.NewHost(fspath.NewMounts(""))
	}
	return tools.Events{
		Program:   prog,
		Task:      &c.task,
		Lineage:   true,
		Constants: c.constants(),
		Columns:   columns,
		Layout:    []int{tools.ColPID, tools.ColPPID, tools.ColComm, tools.ColPComm, tools.ColUID, colOp, colResult, colPathText},
		Fill:      f.fill,
		Metrics:   []*metrics.Metric{operations},
		Measure: func(m *metrics.Meter, raw []byte) {
			e := tools.Header[unlinksnoopEvent](raw)
			op := "unknown"
			if int(e.Op) < len(ops) {
				op = ops[e.Op]
			}
			m.Add(operations, 1, op, tools.ResultLabel(int64(e.Ret)))
		},
	}
}

// filler turns one event into unlinksnoop's columns.
type filler struct {
	cfg  *config
	host *fspath.Host
	text []byte // PATH, reused
}

func (f *filler) fill(r *output.Row, raw []byte) (bool, error) {
	e, p, err := decode(raw)
	if err != nil {
		return false, tools.Malformed(err)
	}
	rename := e.Op == opRename
	f.host.Set(r, colPath, 0, p.old)
	if rename {
		f.host.Set(r, colNewPath, 1, p.new)
	}
	// A path the kernel could not resolve has not been matched against
	// --path there: match what it spells.
	if f.cfg.prefix != nil && !f.matches(p.old, 0) && !(rename && f.matches(p.new, 1)) {
		return false, nil
	}
	f.text = f.host.AppendText(f.text[:0], p.old)
	if rename {
		f.text = f.host.AppendText(append(f.text, " -> "...), p.new)
	}
	r.Str(colPathText, f.text, false)
	if !p.root.Empty() {
		f.host.Set(r, colRoot, 2, p.root)
	}
	if int(e.Op) < len(ops) {
		r.Text(colOp, ops[e.Op])
	}
	tools.SetResult(r, colResult, colRet, colError, int64(e.Ret))
	if int(e.Syscall) < len(syscalls) {
		r.Text(colSyscall, syscalls[e.Syscall])
	}
	setArg(r, colArg, colDirfd, colResolved, colTruncated, p.old, e.Dirfd)
	if rename {
		setArg(r, colNewArg, colNewDirfd, colNewResolved, colNewTruncated, p.new, e.NewDirfd)
		switch e.Replaced {
		case uint8(unlinksnoopUnlinksnoopReplacedUNLINKSNOOP_REPLACED_YES):
			r.Bool(colReplaced, true)
		case uint8(unlinksnoopUnlinksnoopReplacedUNLINKSNOOP_REPLACED_NO):
			r.Bool(colReplaced, false)
		}
	}
	return true, nil
}

// matches reports whether path p, set from host slot, passes --path: the
// kernel matched resolved paths by identity.
func (f *filler) matches(p fspath.Path, slot int) bool {
	if p.Resolved() {
		return p.Flags&fspath.Matched != 0
	}
	return under(f.host.Bytes(slot), f.cfg.prefix)
}

func setArg(r *output.Row, colA, colFD, colRes, colTrunc int, p fspath.Path, dirfd int32) {
	r.Str(colA, p.Arg, p.Flags&fspath.ArgCut != 0)
	if dirfd != atFDCWD {
		r.Int(colFD, int64(dirfd))
	}
	r.Bool(colRes, p.Resolved())
	r.Bool(colTrunc, p.Truncated())
}
