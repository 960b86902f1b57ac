package tools

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
)

// TaskConfig holds the flags every event tool shares: who to trace and
// which task columns to show. Flags binds them; Check validates them.
type TaskConfig struct {
	PID, TID, PPID, Tree int64
	UID                  string
	Cgroup               string
	Name                 string
	Container, Unit      string
	MntNS                int64
	PrintUID             bool
	PrintUnit            bool
	PrintContainer       bool
	PrintLineage         bool
	// Time is the time column the flags chose (set by Check).
	Time output.TimeColumn

	defTime            output.TimeColumn
	clock, relative    bool
	clockName, relName string
	uid                uint32
	name               []byte
}

// Letters are a tool's short flags for the shared flags where BCC's tools
// differ ("" for none): opensnoop's -t is --tid, execsnoop's -P is --ppid.
type Letters struct {
	TID, PPID string
}

func aliases(letter string) []string {
	if letter == "" {
		return nil
	}
	return []string{letter}
}

// Flags returns the shared flags, bound to c.
func (c *TaskConfig) Flags(l Letters) []cli.Flag {
	return []cli.Flag{
		&cli.Int64Flag{Name: "pid", Aliases: []string{"p"}, Destination: &c.PID, Action: idRange("p", "pid"), Usage: "trace this `PID` only (in kernel)"},
		&cli.Int64Flag{Name: "tid", Aliases: aliases(l.TID), Destination: &c.TID, Action: idRange(l.TID, "tid"), Usage: "trace this `TID` (thread) only (in kernel)"},
		&cli.Int64Flag{Name: "ppid", Aliases: aliases(l.PPID), Destination: &c.PPID, Action: idRange(l.PPID, "ppid"), Usage: "trace children of this `PPID` only (in kernel)"},
		&cli.Int64Flag{Name: "tree", Destination: &c.Tree, Action: idRange("", "tree"), Usage: "trace `PID` and all its descendants, also those born later (in kernel)"},
		&cli.StringFlag{Name: "uid", Aliases: []string{"u"}, Destination: &c.UID, Usage: "trace this `UID` (number or user name) only (in kernel)"},
		&cli.StringFlag{Name: "cgroup", Aliases: []string{"c"}, Destination: &c.Cgroup, Usage: "trace processes in this cgroup v2 `PATH` and below only (in kernel)"},
		&cli.Int64Flag{Name: "mntns", Destination: &c.MntNS, Action: func(_ *cli.Context, v int64) error {
			if v < 1 || v > 1<<32-1 {
				return Usagef("--mntns %d: want the inode number of a /proc/PID/ns/mnt, 1 to %d", v, uint32(1<<32-1))
			}
			return nil
		}, Usage: "trace processes in this mount namespace only (the inode `NUMBER` of /proc/PID/ns/mnt) (in kernel)"},
		&cli.StringFlag{Name: "unit", Destination: &c.Unit, Usage: "only processes of this systemd `UNIT`, e.g. cron.service or session-4.scope"},
		&cli.StringFlag{Name: "container", Destination: &c.Container, Usage: "only processes in the container whose id starts with `ID`"},
		&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Destination: &c.Name, Usage: "only processes whose name (comm) contains `NAME`"},
		&cli.BoolFlag{Name: "print-uid", Aliases: []string{"U"}, Destination: &c.PrintUID, Usage: "include a UID column"},
		&cli.BoolFlag{Name: "print-unit", Destination: &c.PrintUnit, Usage: "include a UNIT column (systemd unit)"},
		&cli.BoolFlag{Name: "print-container", Destination: &c.PrintContainer, Usage: "include a CONTAINER column (short container id)"},
		&cli.BoolFlag{Name: "print-lineage", Destination: &c.PrintLineage, Usage: "include a LINEAGE column: comm<-parent<-grandparent..."},
	}
}

// idRange checks a process or thread ID flag when it is given: 0 would
// turn its kernel filter off, and more than 32 bits would wrap.
func idRange(letter, name string) func(*cli.Context, int64) error {
	return func(_ *cli.Context, v int64) error {
		if v < 1 || v > PIDMax {
			spelled := "--" + name
			if letter != "" {
				spelled = "-" + letter + "/" + spelled
			}
			return Usagef("%s %d: want 1 to %d", spelled, v, PIDMax)
		}
		return nil
	}
}

// TimeFlags returns the flags that select the time column, bound to c:
// clock for HH:MM:SS, relative for seconds since start (BCC's -T and -t,
// whose letters differ between tools). A name "" leaves that flag out;
// without either flag, Time is def.
func (c *TaskConfig) TimeFlags(def output.TimeColumn, clockName, clockLetter, relName, relLetter string) []cli.Flag {
	c.defTime, c.clockName, c.relName = def, clockName, relName
	var fs []cli.Flag
	if clockName != "" {
		fs = append(fs, &cli.BoolFlag{Name: clockName, Aliases: aliases(clockLetter), Destination: &c.clock, Usage: "include a TIME column (HH:MM:SS)"})
	}
	if relName != "" {
		fs = append(fs, &cli.BoolFlag{Name: relName, Aliases: aliases(relLetter), Destination: &c.relative, Usage: "include a TIME(s) column: seconds since start"})
	}
	return fs
}

// Check validates the flags once parsed.
func (c *TaskConfig) Check() error {
	switch {
	case c.clock && c.relative:
		return Usagef("--%s and --%s are exclusive", c.clockName, c.relName)
	case c.clock:
		c.Time = output.ClockTime
	case c.relative:
		c.Time = output.RelativeTime
	default:
		c.Time = c.defTime
	}
	c.uid = NoUID
	if c.UID != "" {
		var err error
		if c.uid, err = ParseUID(c.UID); err != nil {
			return err
		}
	}
	c.name = nil
	if c.Name != "" {
		c.name = []byte(c.Name)
	}
	return nil
}

// Constants are the kernel-side task filters (bpf/include/task.bpf.h).
func (c *TaskConfig) Constants(lineage bool) map[string]any {
	return map[string]any{
		"targ_pid":    uint32(c.PID),
		"targ_tid":    uint32(c.TID),
		"targ_ppid":   uint32(c.PPID),
		"targ_uid":    c.uid,
		"targ_mntns":  uint32(c.MntNS),
		"targ_tree":   c.Tree != 0,
		"ebt_lineage": lineage,
	}
}

// match applies the filters that run in user space: they need the comm
// whole (the kernel compares no substrings cheaply) or the cgroup's path.
func (c *TaskConfig) match(t *Task, cg *cgroups.Info) bool {
	if c.name != nil && !bytes.Contains(Comm(&t.Comm), c.name) {
		return false
	}
	if c.Unit != "" && (cg == nil || cg.Unit != c.Unit) {
		return false
	}
	if c.Container != "" && (cg == nil || !strings.HasPrefix(cg.ContainerID, c.Container)) {
		return false
	}
	return true
}

// needCgroups reports whether rows need the cgroup resolver.
func (c *TaskConfig) needCgroups(format output.Format) bool {
	return format == output.JSON || c.Unit != "" || c.Container != "" || c.PrintUnit || c.PrintContainer
}

// Order returns the text columns of a tool whose default layout is
// layout: -U adds UID in front (as BCC's tools do), the --print-* flags add
// their columns before the last, free-text column.
func (c *TaskConfig) Order(layout ...int) []int {
	order := make([]int, 0, len(layout)+4)
	if c.PrintUID && !contains(layout, ColUID) {
		order = append(order, ColUID)
	}
	order = append(order, layout[:len(layout)-1]...)
	for _, p := range []struct {
		on  bool
		col int
	}{{c.PrintUnit, ColUnit}, {c.PrintContainer, ColContainer}, {c.PrintLineage, ColLineage}} {
		if p.on {
			order = append(order, p.col)
		}
	}
	return append(order, layout[len(layout)-1])
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// seedTree puts --tree's PID and its living descendants into ebt_tree.
// Called before the programs attach and again right after, so a process
// forked in between is not missed.
func (c *TaskConfig) seedTree(m *ebpf.Map) error {
	if c.Tree == 0 {
		return nil
	}
	for _, pid := range descendants(uint32(c.Tree), "/proc") {
		if err := m.Put(pid, uint8(1)); err != nil {
			return fmt.Errorf("fill --tree map: %w", err)
		}
	}
	return nil
}

// descendants returns root and every living process below it, from the
// parent pids in procDir/*/stat.
func descendants(root uint32, procDir string) []uint32 {
	children := map[uint32][]uint32{}
	ents, _ := os.ReadDir(procDir)
	for _, e := range ents {
		pid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "PID (COMM) STATE PPID ...": COMM may hold spaces and ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			continue
		}
		children[uint32(ppid)] = append(children[uint32(ppid)], uint32(pid))
	}
	out := []uint32{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
