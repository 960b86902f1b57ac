package runtime

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
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
// changes nothing on the system, with one exception the caller arranges
// for: tracefs, if not mounted, is mounted as a tool would mount it, so
// the caller should run Doctor in a mount namespace of its own then (see
// TracefsMounted), where the mount goes away with it.
func Doctor(btfPath string) []Fact {
	var facts []Fact
	add := func(name string, ok bool, format string, args ...any) {
		facts = append(facts, Fact{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}

	var uts unix.Utsname
	_ = unix.Uname(&uts)
	add("kernel", true, "%s %s", unix.ByteSliceToString(uts.Release[:]), unix.ByteSliceToString(uts.Machine[:]))

	eff, err := effectiveCaps()
	if err != nil {
		add("privileges", false, "%v", err)
	}
	missing, _ := Missing([]Capability{CapBPF, CapPerfmon})
	privOK := err == nil && len(missing) == 0
	switch {
	case err != nil:
	case privOK:
		add("privileges", true, "%s", describeCaps(eff))
	default:
		add("privileges", false, "%s: loading BPF programs needs %s", describeCaps(eff), capNames(missing))
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
		add("tracefs", true, "not mounted: tools mount it at %s as they start (needs CAP_SYS_ADMIN)", root)
	case !tracefsWorldReadable(root):
		add("tracefs", true, "mounted at %s; users other than root need CAP_DAC_READ_SEARCH (or its group) to read it", root)
	default:
		add("tracefs", true, "mounted at %s, readable by all users", root)
	}

	if !privOK {
		add("probes", false, "skipped: probing BPF features needs %s", capNames(missing))
		return facts
	}
	feature := func(name string, err error) {
		switch {
		case errors.Is(err, ErrPrivileges):
			add(name, false, "cannot tell: %v", err)
		case err != nil:
			add(name, false, "unavailable: %v", err)
		default:
			add(name, true, "available")
		}
	}
	feature("ringbuf", features.HaveMapType(ebpf.RingBuf))
	feature("perfbuf", features.HaveMapType(ebpf.PerfEventArray))

	tpErr := features.HaveProgramType(ebpf.TracePoint)
	if _, _, err := Tracefs(); tpErr == nil && err != nil {
		tpErr = err // no tracefs to look in: cannot tell, if a privilege is missing
	}
	if tpErr == nil && root != "" {
		ok, err := (&kernel{}).tracepointExists("syscalls", "sys_enter_openat")
		switch {
		case err != nil:
			tpErr = err
		case !ok:
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
		var aerr *attachError
		switch {
		case errors.As(fentryErr, &aerr):
			fentryErr = fmt.Errorf("an empty fentry program loads but does not attach: %w", aerr.err)
		case fentryErr != nil:
			fentryErr = fmt.Errorf("an empty fentry program does not load: %w", fentryErr)
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
	mode := lockdown()
	add("lockdown", mode != "confidentiality", "%s", mode)
	return facts
}

// lockdown describes the kernel lockdown mode, which can forbid BPF reads
// of kernel memory ("confidentiality").
func lockdown() string {
	const file = "/sys/kernel/security/lockdown"
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		b, err = readSecurityfsPrivately("lockdown")
	}
	if err == nil {
		// "none [integrity] confidentiality": the bracketed word is active.
		s := string(bytes.TrimSpace(b))
		if i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']'); i >= 0 && j > i {
			return s[i+1 : j]
		}
		return s
	}
	if cfg := kernelConfig(); cfg != nil && !bytes.Contains(cfg, []byte("CONFIG_SECURITY_LOCKDOWN_LSM=y")) {
		return "none (kernel built without the lockdown LSM)"
	}
	return fmt.Sprintf("unknown: %v", err)
}

// readSecurityfsPrivately reads a securityfs file when securityfs is not
// mounted, by mounting it in a mount namespace private to one OS thread, so
// the host's mounts stay as they are.
func readSecurityfsPrivately(name string) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, and its namespace, end with the goroutine.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			ch <- result{err: fmt.Errorf("unshare mount namespace: %w", err)}
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			ch <- result{err: fmt.Errorf("make mounts private: %w", err)}
			return
		}
		if err := unix.Mount("securityfs", "/sys/kernel/security", "securityfs", unix.MS_RDONLY, ""); err != nil {
			ch <- result{err: fmt.Errorf("mount securityfs: %w", err)}
			return
		}
		b, err := os.ReadFile("/sys/kernel/security/" + name)
		ch <- result{b, err}
	}()
	r := <-ch
	return r.b, r.err
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
