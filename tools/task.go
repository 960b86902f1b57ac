package tools

import (
	"errors"
	"strconv"
	"unsafe"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
)

// Task is who caused an event: struct ebt_task (bpf/include/task.h), the
// first field of every event tool's event.
type Task = typesEbtTask

// Ancestor is one process above the event's (struct ebt_ancestor).
type Ancestor = typesEbtAncestor

const (
	taskSize     = int(unsafe.Sizeof(Task{}))
	ancestorSize = int(unsafe.Sizeof(Ancestor{}))
)

var (
	errTaskShort = errors.New("decode task: record shorter than its task header")
	errAncestors = errors.New("decode task: ancestors beyond the record")
)

// DecodeTask returns the task at the start of raw and its ancestors, both
// aliasing raw.
func DecodeTask(raw []byte) (*Task, []Ancestor, error) {
	t := Header[Task](raw)
	if t == nil {
		return nil, nil, errTaskShort
	}
	if t.NrAncestors == 0 {
		return t, nil, nil
	}
	off, n := int(t.AncestorsOff), int(t.NrAncestors)
	if off < taskSize || off%8 != 0 || off+n*ancestorSize > len(raw) {
		return nil, nil, errAncestors
	}
	return t, unsafe.Slice((*Ancestor)(unsafe.Pointer(&raw[off])), n), nil
}

// AppendExecID appends the exec_id of the process pid that started at
// start (CLOCK_MONOTONIC ns): "pid:start", unique for the boot, so rows of
// one process can be joined across tools and across pid reuse.
func AppendExecID(b []byte, pid uint32, start uint64) []byte {
	b = strconv.AppendUint(b, uint64(pid), 10)
	b = append(b, ':')
	return strconv.AppendUint(b, start, 10)
}

// Column indexes of the task fields: the same in every event tool, whose
// own columns start at NumTaskCols.
const (
	ColPID = iota
	ColTID
	ColPPID
	ColUID
	ColGID
	ColComm
	ColPComm
	ColExecID
	ColPExecID
	ColCgroupID
	ColCgroup
	ColUnit
	ColContainerID
	ColContainer // text: the short id, as `docker ps` shows it
	ColPodUID
	ColMntNS
	ColPidNS
	ColNsPID
	ColAncestors
	ColLineage
	NumTaskCols
)

// taskColumns are the task fields' text titles and JSON keys, one for each
// concept in every tool (README: "Names").
var taskColumns = [NumTaskCols]output.Column{
	ColPID:         {Header: "PID", Key: "pid", Width: 7},
	ColTID:         {Header: "TID", Key: "tid", Width: 7},
	ColPPID:        {Header: "PPID", Key: "ppid", Width: 7},
	ColUID:         {Header: "UID", Key: "uid", Width: 6},
	ColGID:         {Header: "GID", Key: "gid", Width: 6},
	ColComm:        {Header: "COMM", Key: "comm", Width: 16},
	ColPComm:       {Header: "PCOMM", Key: "pcomm", Width: 16},
	ColExecID:      {Key: "exec_id"},
	ColPExecID:     {Key: "pexec_id"},
	ColCgroupID:    {Key: "cgroup_id"},
	ColCgroup:      {Header: "CGROUP", Key: "cgroup", Width: 24},
	ColUnit:        {Header: "UNIT", Key: "unit", Width: 24},
	ColContainerID: {Key: "container_id"},
	ColContainer:   {Header: "CONTAINER", Width: 12},
	ColPodUID:      {Key: "pod_uid"},
	ColMntNS:       {Header: "MNTNS", Key: "mntns", Width: 10},
	ColPidNS:       {Key: "pidns"},
	ColNsPID:       {Key: "ns_pid"},
	ColAncestors:   {Key: "ancestors"},
	ColLineage:     {Header: "LINEAGE", Width: 24, Sep: "<-"},
}

// Columns returns the task columns followed by a tool's own, whose indexes
// must start at NumTaskCols.
func Columns(own ...output.Column) []output.Column {
	return append(taskColumns[:], own...)
}

// taskRow fills a row's task columns; its buffers are reused per event.
type taskRow struct {
	execID, pexecID, ancestors []byte
}

// set fills the task columns of r from t, its ancestors and, if the
// cgroup is known, its provenance.
func (tr *taskRow) set(r *output.Row, t *Task, anc []Ancestor, cg *cgroups.Info) {
	r.Uint(ColPID, uint64(t.Pid))
	r.Uint(ColTID, uint64(t.Tid))
	r.Uint(ColPPID, uint64(t.Ppid))
	r.Uint(ColUID, uint64(t.Uid))
	r.Uint(ColGID, uint64(t.Gid))
	r.Str(ColComm, Comm(&t.Comm), false)
	r.Str(ColPComm, Comm(&t.Pcomm), false)
	if r.Wants(ColExecID) {
		tr.execID = AppendExecID(tr.execID[:0], t.Pid, t.StartNs)
		r.Str(ColExecID, tr.execID, false)
	}
	if t.Ppid != 0 && r.Wants(ColPExecID) {
		tr.pexecID = AppendExecID(tr.pexecID[:0], t.Ppid, t.PstartNs)
		r.Str(ColPExecID, tr.pexecID, false)
	}
	if t.CgroupId != 0 {
		r.Uint(ColCgroupID, t.CgroupId)
	}
	if cg != nil {
		r.Text(ColCgroup, cg.Path)
		setText(r, ColUnit, cg.Unit)
		setText(r, ColContainerID, cg.ContainerID)
		setText(r, ColContainer, cg.ContainerID[:min(12, len(cg.ContainerID))])
		setText(r, ColPodUID, cg.PodUID)
	}
	if t.Mntns != 0 {
		r.Uint(ColMntNS, uint64(t.Mntns))
	}
	if t.Pidns != 0 {
		r.Uint(ColPidNS, uint64(t.Pidns))
		r.Uint(ColNsPID, uint64(t.NsPid))
	}
	if t.AncestorsOff != 0 { // collected, maybe none (PID 1)
		tr.setAncestors(r, t, anc)
	}
}

func setText(r *output.Row, col int, s string) {
	if s != "" {
		r.Text(col, s)
	}
}

// setAncestors fills the JSON ancestors (objects with pid, comm and
// exec_id) and the text lineage (comm<-parent<-...), each only if the
// formatter prints it: --print-lineage text has no use for the JSON.
func (tr *taskRow) setAncestors(r *output.Row, t *Task, anc []Ancestor) {
	if r.Wants(ColLineage) {
		r.Item(ColLineage, Comm(&t.Comm), false)
		for i := range anc {
			r.Item(ColLineage, Comm(&anc[i].Comm), false)
		}
	}
	if !r.Wants(ColAncestors) {
		return
	}
	b := append(tr.ancestors[:0], '[')
	for i := range anc {
		a := &anc[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"pid":`...)
		b = strconv.AppendUint(b, uint64(a.Pid), 10)
		b = append(b, `,"comm":`...)
		b = output.AppendJSONString(b, Comm(&a.Comm))
		b = append(b, `,"exec_id":"`...)
		b = AppendExecID(b, a.Pid, a.StartNs)
		b = append(b, `"}`...)
	}
	tr.ancestors = append(b, ']')
	r.RawJSON(ColAncestors, tr.ancestors)
}
