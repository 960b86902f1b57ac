package execsnoop

import (
	"bytes"
	"errors"
	"unsafe"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
	"github.com/ebtools/ebtools/tools/internal/fspath"
)

// Flags of execsnoopEvent.Flags (enum execsnoop_flag in bpf/execsnoop.h).
const (
	flagMoreArgs       = uint32(execsnoopExecsnoopFlagEXECSNOOP_MORE_ARGS)
	flagExecveat       = uint32(execsnoopExecsnoopFlagEXECSNOOP_EXECVEAT)
	flagScript         = uint32(execsnoopExecsnoopFlagEXECSNOOP_SCRIPT)
	flagArgsUnreadable = uint32(execsnoopExecsnoopFlagEXECSNOOP_ARGS_UNREADABLE)
	flagEntry          = uint32(execsnoopExecsnoopFlagEXECSNOOP_ENTRY)
	flagNoSyscall      = uint32(execsnoopExecsnoopFlagEXECSNOOP_NO_SYSCALL)
)

// filenameBit is the cut_mask bit of a failed exec's unreadable filename.
const filenameBit = 63

const eventSize = int(unsafe.Sizeof(execsnoopEvent{}))

var (
	errShort  = errors.New("decode execsnoop event: record shorter than its header")
	errString = errors.New("decode execsnoop event: a string beyond the record")
)

// str returns the string at off of length n in raw, nil if absent. A perf
// buffer record may carry trailing padding, so the lengths, not len(raw),
// bound the strings.
func str(raw []byte, off, n uint16) ([]byte, error) {
	if n == 0 && off == 0 {
		return nil, nil
	}
	if int(off) < eventSize || int(off)+int(n) > len(raw) {
		return nil, errString
	}
	return raw[off : int(off)+int(n)], nil
}

// Column indexes of execsnoop's own columns.
const (
	colRet = tools.NumTaskCols + iota
	colExe
	colArgsText
	colSyscall
	colFilename
	colScript
	colArgs
	colArgc
	colTruncated
	colExeJSON
)

// columns is execsnoop's output, as libbpf-tools' execsnoop in text (ARGS
// is the filename or, for a script, its interpreter, then argv[1:]) and with
// argv whole in JSON.
func (c *config) columns() []output.Column {
	return tools.Columns(
		output.Column{Header: "RET", Key: "ret", Width: 3, Align: output.Right},
		output.Column{Header: "EXE", Width: 16},
		output.Column{Header: "ARGS", Quote: c.quote},
		output.Column{Key: "syscall"},
		output.Column{Key: "filename"},
		output.Column{Key: "script"},
		output.Column{Key: "args"},
		output.Column{Key: "argc"},
		output.Column{Key: "args_truncated"},
		output.Column{Key: "exe"},
	)
}

// execs is execsnoop's own metric (--metrics).
var execs = &metrics.Metric{Name: "execs_total", Help: "Execs traced (failed ones with -x), by result: ok or the errno name.", Labels: []string{"result"}}

var (
	sysExecve   = []byte("execve")
	sysExecveat = []byte("execveat")
)

// events is execsnoop for the spine: COMM PID PPID RET [EXE] ARGS.
func (c *config) events(prog ebrt.Program) tools.Events {
	layout := []int{tools.ColComm, tools.ColPID, tools.ColPPID, colRet, colArgsText}
	if c.exe {
		layout = []int{tools.ColComm, tools.ColPID, tools.ColPPID, colRet, colExe, colArgsText}
	}
	f := &filler{cfg: c, host: c.host}
	if f.host == nil {
		f.host = fspath.NewHost(fspath.NewMounts(""))
	}
	return tools.Events{
		Program:   prog,
		Task:      &c.task,
		Lineage:   true,
		Constants: map[string]any{execsnoopVarTargWithFailed: c.fails},
		Columns:   c.columns(),
		Layout:    layout,
		Fill:      f.fill,
		Metrics:   []*metrics.Metric{execs},
		Measure: func(m *metrics.Meter, raw []byte) {
			m.Add(execs, 1, tools.ResultLabel(int64(tools.Header[execsnoopEvent](raw).Ret)))
		},
	}
}

// filler turns one event into execsnoop's columns.
type filler struct {
	cfg    *config
	joined []byte // scratch for -l matching
	host   *fspath.Host
}

func (f *filler) fill(r *output.Row, raw []byte) (bool, error) {
	e := tools.Header[execsnoopEvent](raw)
	if e == nil {
		return false, tools.Malformed(errShort)
	}
	args, err := str(raw, e.ArgsOff, e.ArgsLen)
	if err != nil {
		return false, tools.Malformed(err)
	}
	filename, err := str(raw, e.FilenameOff, e.FilenameLen)
	if err != nil {
		return false, tools.Malformed(err)
	}
	interp, err := str(raw, e.InterpOff, e.InterpLen)
	if err != nil {
		return false, tools.Malformed(err)
	}
	exe, err := fspath.Decode(raw, &e.Exe)
	if err != nil {
		return false, tools.Malformed(err)
	}
	if f.cfg.lineB != nil && !f.argsContain(args) {
		return false, nil
	}

	r.Int(colRet, int64(e.Ret))
	switch {
	case e.Flags&flagNoSyscall != 0:
	case e.Flags&flagExecveat != 0:
		r.Str(colSyscall, sysExecveat, false)
	default:
		r.Str(colSyscall, sysExecve, false)
	}
	entry := e.Flags&flagEntry != 0
	filenameCut := entry && e.CutMask&(1<<filenameBit) != 0
	if filename != nil || filenameCut {
		r.Str(colFilename, filename, false)
	}
	if e.Flags&flagScript != 0 {
		r.Str(colScript, filename, false)
	}
	if !exe.Empty() {
		f.host.Set(r, colExe, 0, exe)
		f.host.Set(r, colExeJSON, 1, exe)
	}
	r.Uint(colArgc, uint64(e.Argc))

	// ARGS: what ran (the interpreter of a script, else the file named),
	// then argv[1:]; argv whole in JSON.
	truncated := e.Flags&(flagMoreArgs|flagArgsUnreadable) != 0 || filenameCut
	first := filename
	if e.Flags&flagScript != 0 {
		first = interp
	}
	if len(first) > 0 || filenameCut {
		r.Item(colArgsText, first, filenameCut)
	}
	shown, i := 0, 0
	for rest := args; len(rest) > 0; i++ {
		s := tools.CString(rest)
		rest = rest[min(len(s)+1, len(rest)):]
		cut := entry && i < filenameBit && e.CutMask&(1<<uint(i)) != 0
		// The last string of a cut argv has no NUL: it was cut too.
		cut = cut || (len(rest) == 0 && args[len(args)-1] != 0)
		truncated = truncated || cut
		if uint(shown) >= f.cfg.maxArgs {
			break
		}
		shown++
		r.Item(colArgs, s, cut)
		// argv[0] is replaced by the file that ran, unless there is none
		// (execveat(fd, "", ...) before the kernel named it /dev/fd/N).
		if i > 0 || len(first) == 0 {
			r.Item(colArgsText, s, cut)
		}
	}
	if shown < i || e.Flags&flagMoreArgs != 0 || (!entry && uint32(i) < e.Argc) {
		truncated = true
		r.More(colArgsText)
		r.More(colArgs)
	}
	if e.Flags&flagArgsUnreadable != 0 {
		r.Item(colArgsText, unreadable, false)
	}
	r.List(colArgs)
	r.Bool(colTruncated, truncated)
	return true, nil
}

var unreadable = []byte("(argv unreadable)")

// argsContain reports whether argv, joined by spaces, contains cfg.line.
func (f *filler) argsContain(args []byte) bool {
	f.joined = append(f.joined[:0], bytes.TrimSuffix(args, []byte{0})...)
	for i, c := range f.joined {
		if c == 0 {
			f.joined[i] = ' '
		}
	}
	return bytes.Contains(f.joined, f.cfg.lineB)
}
