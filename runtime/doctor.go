package runtime

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// Fact is one line of `ebtools doctor`.
type Fact struct {
	Name   string
	OK     bool
	Detail string
}

// fentryProbeTargets are kernel functions to probe fentry on, first found wins.
var fentryProbeTargets = []string{"bpf_fentry_test1", "do_nanosleep", "vfs_read"}

// Doctor reports what this kernel and process offer to BPF tracing. It
// mounts tracefs if needed, exactly as a tool would.
func Doctor(btfPath string) []Fact {
	var facts []Fact
	add := func(name string, ok bool, format string, args ...any) {
		facts = append(facts, Fact{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}

	var uts unix.Utsname
	_ = unix.Uname(&uts)
	add("kernel", true, "%s %s", unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Machine[:]))

	privErr := CheckPrivileges(false)
	if privErr != nil {
		add("privileges", false, "%v", privErr)
	} else if os.Geteuid() == 0 {
		add("privileges", true, "root")
	} else {
		add("privileges", true, "CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)")
	}

	k, err := newKernel(btfPath)
	switch {
	case err != nil:
		add("btf", false, "%v", err)
	case btfPath != "":
		add("btf", true, "%s (--btf)", btfPath)
	default:
		add("btf", true, "%s", kernelBTFPath)
	}

	root, mounted, err := Tracefs()
	switch {
	case err != nil:
		add("tracefs", false, "%v", err)
	case mounted:
		add("tracefs", true, "was not mounted; ebtools mounted it at %s", root)
	default:
		add("tracefs", true, "mounted at %s", root)
	}

	if privErr != nil {
		add("probes", false, "skipped: probing BPF features needs the privileges above")
		return facts
	}
	feature := func(name string, err error) {
		if err != nil {
			add(name, false, "unavailable: %v", err)
		} else {
			add(name, true, "available")
		}
	}
	feature("ringbuf", features.HaveMapType(ebpf.RingBuf))
	feature("perfbuf", features.HaveMapType(ebpf.PerfEventArray))

	tpErr := features.HaveProgramType(ebpf.TracePoint)
	if tpErr == nil && root != "" {
		if ok, _ := tracepointExists("syscalls", "sys_enter_openat"); !ok {
			tpErr = errors.New("no syscall tracepoints (kernel built without CONFIG_FTRACE_SYSCALLS?)")
		}
	}
	feature("tracepoints", tpErr)

	if k == nil {
		add("tp_btf", false, "unknown: needs BTF")
		add("fentry", false, "unknown: needs BTF")
	} else {
		feature("tp_btf", k.probeTracing(ebpf.AttachTraceRawTp, "sched_switch"))
		fentryErr := errors.New("no probe target function in BTF")
		for _, fn := range fentryProbeTargets {
			if k.hasFunc(fn) {
				fentryErr = k.probeTracing(ebpf.AttachTraceFEntry, fn)
				break
			}
		}
		feature("fentry", fentryErr)
	}
	kp := &kernel{}
	if why := kp.kprobesMissing(); why != "" {
		add("kprobes", false, "unavailable: %s", why)
	} else {
		add("kprobes", true, "available")
	}
	feature("xdp", features.HaveProgramType(ebpf.XDP))
	add("lockdown", true, "%s", lockdown())
	return facts
}

// lockdown describes the kernel lockdown mode, which can forbid BPF reads
// of kernel memory ("confidentiality").
func lockdown() string {
	if b, err := os.ReadFile("/sys/kernel/security/lockdown"); err == nil {
		// "none [integrity] confidentiality": the bracketed word is active.
		s := string(bytes.TrimSpace(b))
		if i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']'); i >= 0 && j > i {
			return s[i+1 : j]
		}
		return s
	}
	if cfg := kernelConfig(); cfg != nil {
		if !bytes.Contains(cfg, []byte("CONFIG_SECURITY_LOCKDOWN_LSM=y")) {
			return "none (kernel built without the lockdown LSM)"
		}
	}
	return "unknown (securityfs not mounted at /sys/kernel/security)"
}

func kernelConfig() []byte {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return nil
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil
	}
	b, _ := io.ReadAll(zr)
	return b
}
