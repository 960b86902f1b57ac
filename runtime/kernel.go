package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

const kernelBTFPath = "/sys/kernel/btf/vmlinux"

// kernel answers what this kernel can attach to, caching each probe.
type kernel struct {
	btf *btf.Spec
	// cache holds the running kernel's BTF for cilium/ebpf, which looks
	// up tp_btf and fentry targets in it: decoded once, for both (each
	// copy costs several MB of heap).
	cache  *btf.Cache
	probes map[string]error
	// failed holds the load errors of programs whose method turned out
	// not to work here, by failKey.
	failed map[string]error
	kprobe *bool
	syms   map[string]bool
	// mountedTracefs is where this process mounted tracefs, if it did.
	mountedTracefs string
}

// newKernel loads the BTF that CO-RE relocations and hook checks use: the
// file at btfPath if set, else the running kernel's.
func newKernel(btfPath string) (*kernel, error) {
	k := &kernel{cache: btf.NewCache(), probes: map[string]error{}, failed: map[string]error{}}
	var err error
	if btfPath != "" {
		if k.btf, err = loadBTFFile(btfPath); err != nil {
			return nil, fmt.Errorf("load BTF %q: %w", btfPath, err)
		}
		return k, nil
	}
	if _, statErr := os.Stat(kernelBTFPath); errors.Is(statErr, os.ErrNotExist) {
		return nil, ErrNoBTF
	}
	k.btf, err = k.cache.Kernel()
	if err != nil {
		return nil, fmt.Errorf("load kernel BTF: %w", err)
	}
	return k, nil
}

// MaxBTFSize bounds a --btf file. A kernel's BTF is a few MiB (6.18's
// vmlinux: about 6 MiB), an ELF image with .BTF tens to hundreds of MiB.
const MaxBTFSize = 256 << 20

// loadBTFFile parses the BTF in path, a regular file of at most MaxBTFSize
// bytes (raw BTF or an ELF file with a .BTF section), so that a device such
// as /dev/zero is refused instead of read until memory runs out.
func loadBTFFile(path string) (*btf.Spec, error) {
	// O_NONBLOCK: opening a named pipe must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file but %s", fileType(fi.Mode()))
	}
	if fi.Size() > MaxBTFSize {
		return nil, fmt.Errorf("%d bytes, more than the %d MiB ebtools reads", fi.Size(), MaxBTFSize>>20)
	}
	// The file's size as it was checked, even if it grows meanwhile.
	return btf.LoadSpecFromReader(io.NewSectionReader(f, 0, fi.Size()))
}

func fileType(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}

// available returns why m cannot attach to target here ("" if it can). err
// is an environment failure (tracefs) that affects every choice alike.
func (k *kernel) available(m method, target string) (string, error) {
	switch m {
	case methodTracepoint:
		group, name, ok := strings.Cut(target, "/")
		if !ok {
			return "", fmt.Errorf("tracepoint %q: want group/name", target)
		}
		found, err := k.tracepointExists(group, name)
		if err != nil {
			return "", err
		}
		if !found {
			return "not in this kernel's tracefs events", nil
		}
	case methodTPBTF, methodRawTracepoint:
		if !k.hasType("btf_trace_" + target) {
			return "not in this kernel's BTF", nil
		}
		// Whether tp_btf programs load is learnt by loading the tool (see
		// load): a probe here would cost as much as the load itself.
		if err := k.failed[failKey(m, target)]; err != nil {
			return fmt.Sprintf("%s programs do not load here: %v", m, err), nil
		}
	case methodKprobe, methodKretprobe:
		if why := k.kprobesMissing(); why != "" {
			return why, nil
		}
		if !k.hasSymbol(target) {
			return "no such kernel symbol", nil
		}
	case methodFentry, methodFexit:
		if !k.hasFunc(target) {
			return "not a function in this kernel's BTF", nil
		}
		if err := k.failed[failKey(m, target)]; err != nil {
			return fmt.Sprintf("%s programs do not load here: %v", m, err), nil
		}
		// Whether they load is learnt by loading the tool, as for tp_btf;
		// whether a loaded one attaches is probed.
		at := map[method]ebpf.AttachType{methodFentry: ebpf.AttachTraceFEntry, methodFexit: ebpf.AttachTraceFExit}[m]
		var aerr *attachError
		if err := k.probeTracing(at, target); errors.As(err, &aerr) {
			return fmt.Sprintf("%s programs load but do not attach here: %v", m, aerr.err), nil
		}
	}
	return "", nil
}

func failKey(m method, target string) string { return m.String() + "/" + target }

func (k *kernel) hasType(name string) bool {
	_, err := k.btf.AnyTypeByName(name)
	return err == nil
}

func (k *kernel) hasFunc(name string) bool {
	var fn *btf.Func
	return k.btf.TypeByName(name, &fn) == nil
}

// attachError is a probe program that loaded but did not attach.
type attachError struct{ err error }

func (e *attachError) Error() string { return "attach program: " + e.err.Error() }
func (e *attachError) Unwrap() error { return e.err }

// probeTracing loads an empty BPF_PROG_TYPE_TRACING program for target and
// attaches it: a kernel may load what it cannot attach (arm64 before 6.4
// has no ftrace direct calls, so fentry on a kernel function fails there
// with ENOTSUPP once the program is verified). An attach failure is an
// *attachError.
func (k *kernel) probeTracing(at ebpf.AttachType, target string) error {
	key := fmt.Sprintf("%d/%s", at, target)
	if err, ok := k.probes[key]; ok {
		return err
	}
	p, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   at,
		AttachTo:     target,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}, ebpf.ProgramOptions{KernelTypes: k.btf, LogDisabled: true})
	if err == nil {
		l, lerr := link.AttachTracing(link.TracingOptions{Program: p})
		if lerr != nil {
			err = &attachError{lerr}
		} else {
			l.Close()
		}
		p.Close()
	}
	k.probes[key] = err
	return err
}

// kprobesMissing says why kprobes cannot be created ("" if they can): the
// perf kprobe PMU (4.17+) or tracefs kprobe_events must exist.
func (k *kernel) kprobesMissing() string {
	if k.kprobe == nil {
		ok := fileExists("/sys/bus/event_source/devices/kprobe/type")
		if !ok {
			if root, _, err := Tracefs(); err == nil {
				ok = fileExists(filepath.Join(root, "kprobe_events"))
			}
		}
		k.kprobe = &ok
	}
	if !*k.kprobe {
		if cfg := kernelConfig(); bytes.Contains(cfg, []byte("# CONFIG_KPROBES is not set")) {
			return "kernel built without CONFIG_KPROBES"
		}
		return "no kprobe PMU and no kprobe_events in tracefs"
	}
	return ""
}

// hasSymbol looks target up in /proc/kallsyms (read once).
func (k *kernel) hasSymbol(target string) bool {
	if k.syms == nil {
		k.syms = map[string]bool{}
		if f, err := os.Open("/proc/kallsyms"); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fields := strings.Fields(sc.Text())
				if len(fields) >= 3 {
					k.syms[fields[2]] = true
				}
			}
			f.Close()
		}
	}
	return k.syms[target]
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
