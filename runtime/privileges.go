package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Capability is a Linux capability ebtools may need.
type Capability struct {
	Name string
	bit  uint
}

// The capabilities ebtools' tools need (see Program.Capabilities).
var (
	CapDACReadSearch = Capability{"CAP_DAC_READ_SEARCH", unix.CAP_DAC_READ_SEARCH}
	CapNetAdmin      = Capability{"CAP_NET_ADMIN", unix.CAP_NET_ADMIN}
	CapSysAdmin      = Capability{"CAP_SYS_ADMIN", unix.CAP_SYS_ADMIN}
	CapPerfmon       = Capability{"CAP_PERFMON", 38} // 5.8+
	CapBPF           = Capability{"CAP_BPF", 39}     // 5.8+
)

// Bit is the capability's number (CAP_BPF is 39).
func (c Capability) Bit() uint { return c.bit }

// Capabilities returns what loading and attaching p needs: CAP_BPF for the
// bpf() calls, CAP_PERFMON for tracing programs and for the pointer
// arithmetic the verifier allows only with it (XDP programs too), and
// CAP_NET_ADMIN to attach XDP. CAP_SYS_ADMIN stands in for each of them.
// Tracepoints may need more (see Plan.Capabilities).
func (p Program) Capabilities() []Capability {
	caps := []Capability{CapBPF, CapPerfmon}
	if p.NetAdmin {
		caps = append(caps, CapNetAdmin)
	}
	return caps
}

// PrivilegeError says which capabilities a tool lacks and what for.
type PrivilegeError struct {
	// Tool is the tool's name ("" for ebtools as a whole).
	Tool string
	// Missing are the capabilities the process lacks.
	Missing []Capability
	// For says what they are needed for, e.g. "to load its BPF programs".
	For string
	// Or is what else would do instead of granting them ("" if nothing).
	Or string
}

func (e *PrivilegeError) Error() string {
	who := "ebtools"
	if e.Tool != "" {
		who += " " + e.Tool
	}
	names := capNames(e.Missing)
	s := fmt.Sprintf("%s needs %s %s: run it as root, or grant it %s", who, names, e.For, names)
	if e.Or != "" {
		s += ", or " + e.Or
	}
	return s
}

// Is makes errors.Is(err, ErrPrivileges) true.
func (e *PrivilegeError) Is(target error) bool { return target == ErrPrivileges }

// withTool returns err with the tool's name in it, if it is a
// PrivilegeError without one.
func withTool(err error, tool string) error {
	var pe *PrivilegeError
	if errors.As(err, &pe) && pe.Tool == "" {
		named := *pe
		named.Tool = tool
		return &named
	}
	return err
}

// capNames returns "CAP_A", "CAP_A and CAP_B", "CAP_A, CAP_B and CAP_C".
func capNames(caps []Capability) string {
	var names []string
	for _, c := range caps {
		names = append(names, c.Name)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// effectiveCaps returns the effective capability set of this thread.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}

func hasCap(set uint64, c Capability) bool { return set&(1<<c.bit) != 0 }

// Missing returns those of caps the process does not have, counting
// CAP_SYS_ADMIN as each of CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (as the
// kernel does for what ebtools does with them).
func Missing(caps []Capability) ([]Capability, error) {
	eff, err := effectiveCaps()
	if err != nil {
		return nil, err
	}
	var missing []Capability
	for _, c := range caps {
		covered := hasCap(eff, c) || (c != CapDACReadSearch && hasCap(eff, CapSysAdmin))
		if !covered {
			missing = append(missing, c)
		}
	}
	return missing, nil
}

// CheckPrivileges returns a PrivilegeError (errors.Is ErrPrivileges)
// unless the process has the capabilities to load and attach prog.
func CheckPrivileges(prog Program) error {
	missing, err := Missing(prog.Capabilities())
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return &PrivilegeError{Tool: prog.Name, Missing: missing, For: "to load and attach its BPF programs"}
	}
	return nil
}

// perfEventPermission returns the PrivilegeError for an attach that
// perf_event_open(2) refused with EACCES although the process has
// CAP_PERFMON, or nil. Where kernel.perf_event_paranoid is above 2, Debian's
// and Ubuntu's kernels open perf events (tracepoints, kprobes) only for
// CAP_SYS_ADMIN; upstream takes 3 as 2.
func perfEventPermission(err error, tool string) error {
	if !errors.Is(err, unix.EACCES) {
		return nil
	}
	b, rerr := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	level, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if rerr != nil || perr != nil || level <= 2 {
		return nil
	}
	if missing, err := Missing([]Capability{CapSysAdmin}); err != nil || len(missing) == 0 {
		return nil
	}
	return &PrivilegeError{Tool: tool, Missing: []Capability{CapSysAdmin},
		For: fmt.Sprintf("to open perf events while kernel.perf_event_paranoid is %d (above 2: root only, on this kernel)", level),
		Or:  "set kernel.perf_event_paranoid to 2 (sysctl kernel.perf_event_paranoid=2)"}
}

// perfEventsNeedSysAdmin reports whether this kernel opens tracepoint perf
// events only for CAP_SYS_ADMIN (see perfEventPermission). It tries, on a
// thread of its own that gives up CAP_SYS_ADMIN and then ends; it needs
// CAP_PERFMON and a tracefs to read, and says false where it cannot tell.
func perfEventsNeedSysAdmin(tracefs string) bool {
	perfSysAdmin.once.Do(func() { perfSysAdmin.need = tryPerfEventWithoutSysAdmin(tracefs) })
	return perfSysAdmin.need
}

var perfSysAdmin struct {
	once sync.Once
	need bool
}

func tryPerfEventWithoutSysAdmin(tracefs string) bool {
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if level, perr := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || perr != nil || level <= 2 {
		return false
	}
	idText, err := os.ReadFile(filepath.Join(tracefs, "events", "syscalls", "sys_enter_openat", "id"))
	if err != nil {
		return false
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(idText)), 10, 64)
	if err != nil {
		return false
	}
	refused := make(chan bool, 1)
	go func() {
		// Never unlocked: the thread, with fewer capabilities, ends with
		// the goroutine.
		goruntime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if unix.Capget(&hdr, &data[0]) != nil || data[1].Effective&(1<<(CapPerfmon.bit-32)) == 0 {
			refused <- false
			return
		}
		data[0].Effective &^= 1 << CapSysAdmin.bit
		if unix.Capset(&hdr, &data[0]) != nil {
			refused <- false
			return
		}
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id, Sample_type: unix.PERF_SAMPLE_RAW,
			Sample: 1, Wakeup: 1, Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{}))}
		fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		refused <- errors.Is(err, unix.EACCES)
	}()
	return <-refused
}

// describeCaps names the capabilities in set among those ebtools uses.
func describeCaps(set uint64) string {
	var names []string
	for _, c := range []Capability{CapBPF, CapPerfmon, CapNetAdmin, CapDACReadSearch, CapSysAdmin} {
		if hasCap(set, c) {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return "none of " + capNames([]Capability{CapBPF, CapPerfmon, CapNetAdmin, CapDACReadSearch, CapSysAdmin})
	}
	if os.Geteuid() == 0 {
		return "root with " + strings.Join(names, ", ")
	}
	return strings.Join(names, ", ")
}
