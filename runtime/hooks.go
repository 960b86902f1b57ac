package runtime

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
)

// Program is a tool's BPF side as the runtime sees it.
type Program struct {
	// Name is the tool's name, for messages.
	Name string
	// Load returns a fresh CollectionSpec (bpf2go's loadXxx).
	Load func() (*ebpf.CollectionSpec, error)
	// Hooks lists where the programs attach, each with its fallbacks.
	Hooks []Hook
	// NetAdmin is set for programs that attach to network interfaces
	// (XDP), which needs CAP_NET_ADMIN as well.
	NetAdmin bool
	// Lost, if set, counts events the tool lost beyond the event channel
	// (e.g. LRU table evictions), cumulatively. It is polled with the lost
	// counter and once more after the programs are detached; while they
	// run it may under-count but must never over-count.
	Lost func(coll *ebpf.Collection) (uint64, error)
	// Helpers lists, by program name, the helpers a program calls that
	// not every kernel has (e.g. bpf_task_pt_regs, 5.15+). A choice with
	// such a program is passed over where the kernel lacks one of them,
	// and under EBTOOLS_FORCE=pair, so that the choice after it runs.
	Helpers map[string][]asm.BuiltinFunc
}

// Hook is one place a tool needs to observe, with alternative ways to attach.
type Hook struct {
	// Name is what users are told, e.g. "execveat".
	Name string
	// Optional hooks are pruned, not fatal, on kernels that lack them.
	Optional bool
	// Choices are sets of program names, best first. All programs of a set
	// attach together (e.g. syscall entry and exit); the first set whose
	// programs all have their attach point on this kernel is used.
	//
	// "name@target" attaches program name to target instead of its
	// section's, so that one program (verified once) serves several hooks
	// of the same kind, e.g. "leave@syscalls/sys_exit_rmdir".
	Choices [][]string
}

// method is how one program attaches, derived from its ELF section.
type method uint8

const (
	methodTracepoint method = iota + 1
	methodTPBTF
	methodRawTracepoint
	methodKprobe
	methodKretprobe
	methodFentry
	methodFexit
	methodXDP
)

func (m method) String() string {
	return [...]string{"", "tracepoint", "tp_btf", "raw_tracepoint", "kprobe", "kretprobe", "fentry", "fexit", "xdp"}[m]
}

// fallbackOnly reports methods that are used only when a tool has no
// tracepoint for a hook (this is the "kprobe" in EBTOOLS_FORCE).
func (m method) fallbackOnly() bool {
	return m == methodKprobe || m == methodKretprobe || m == methodFentry || m == methodFexit
}

func methodOf(p *ebpf.ProgramSpec) (method, error) {
	switch p.Type {
	case ebpf.TracePoint:
		return methodTracepoint, nil
	case ebpf.RawTracepoint:
		return methodRawTracepoint, nil
	case ebpf.XDP:
		return methodXDP, nil
	case ebpf.Kprobe:
		if strings.HasPrefix(p.SectionName, "kretprobe") {
			return methodKretprobe, nil
		}
		return methodKprobe, nil
	case ebpf.Tracing:
		switch p.AttachType {
		case ebpf.AttachTraceRawTp:
			return methodTPBTF, nil
		case ebpf.AttachTraceFEntry:
			return methodFentry, nil
		case ebpf.AttachTraceFExit:
			return methodFexit, nil
		}
	}
	return 0, fmt.Errorf("program %q: section %q: attach method not supported by the runtime", p.Name, p.SectionName)
}

// force holds the test-only switches of EBTOOLS_FORCE (comma-separated):
// "perfbuf" uses the perf buffer even where ring buffers exist, "tracepoint"
// skips tp_btf choices, "kprobe" prefers kprobe/fentry choices, "pair"
// skips choices whose programs need helpers of Program.Helpers (opensnoop's
// exit-only program: its syscall entry+exit pair runs). Each makes a
// fallback path run on a kernel that would not otherwise take it.
type force struct {
	perfbuf, tracepoint, kprobe, pair bool
}

func forceFromEnv() (force, error) {
	var f force
	v := os.Getenv("EBTOOLS_FORCE")
	if v == "" {
		return f, nil
	}
	for _, w := range strings.Split(v, ",") {
		switch strings.TrimSpace(w) {
		case "perfbuf":
			f.perfbuf = true
		case "tracepoint":
			f.tracepoint = true
		case "kprobe":
			f.kprobe = true
		case "pair":
			f.pair = true
		case "":
		default:
			return f, fmt.Errorf("parse EBTOOLS_FORCE %q: unknown switch %q (want perfbuf, tracepoint, kprobe, pair)", v, w)
		}
	}
	return f, nil
}

// choice is a hook's chosen program set.
type choice struct {
	hook     string
	programs []string
	methods  []method
	targets  []string
}

// resolve picks one choice per hook of prog from what this kernel has and
// returns them, with the hooks it pruned.
func resolve(spec *ebpf.CollectionSpec, prog Program, k *kernel, f force) (chosen []choice, pruned []string, err error) {
	for _, h := range prog.Hooks {
		var reasons []string
		picked := false
		for _, set := range orderChoices(spec, h.Choices, f) {
			c, why, err := checkChoice(spec, prog, h.Name, set, k, f)
			if err != nil {
				return nil, nil, err
			}
			if why != "" {
				reasons = append(reasons, why)
				continue
			}
			chosen = append(chosen, c)
			picked = true
			break
		}
		switch {
		case picked:
		case h.Optional:
			pruned = append(pruned, fmt.Sprintf("%s (%s)", h.Name, strings.Join(reasons, "; ")))
		default:
			return nil, nil, fmt.Errorf("attach %s: %w: %s", h.Name, ErrNoHook, strings.Join(reasons, "; "))
		}
	}
	return chosen, pruned, nil
}

// orderChoices moves kprobe/fentry choices first when forced.
func orderChoices(spec *ebpf.CollectionSpec, sets [][]string, f force) [][]string {
	if !f.kprobe {
		return sets
	}
	var first, rest [][]string
	for _, set := range sets {
		fb := false
		for _, entry := range set {
			name, _, _ := strings.Cut(entry, "@")
			if p := spec.Programs[name]; p != nil {
				if m, err := methodOf(p); err == nil && m.fallbackOnly() {
					fb = true
				}
			}
		}
		if fb {
			first = append(first, set)
		} else {
			rest = append(rest, set)
		}
	}
	return append(first, rest...)
}

// checkChoice returns the choice, or why it cannot be used here. err is an
// environment failure that no other choice would avoid.
func checkChoice(spec *ebpf.CollectionSpec, prog Program, hook string, set []string, k *kernel, f force) (choice, string, error) {
	c := choice{hook: hook}
	for _, entry := range set {
		name, target, override := strings.Cut(entry, "@")
		p := spec.Programs[name]
		if p == nil {
			return c, "", fmt.Errorf("hook %s: program %q is not in the object", hook, name)
		}
		for _, fn := range prog.Helpers[name] {
			if f.pair {
				return c, fmt.Sprintf("%s needs %s: skipped by EBTOOLS_FORCE=pair", name, helperName(fn)), nil
			}
			err := features.HaveProgramHelper(p.Type, fn)
			if errors.Is(err, ebpf.ErrNotSupported) {
				return c, fmt.Sprintf("%s needs %s, which this kernel lacks", name, helperName(fn)), nil
			}
			if err != nil {
				return c, "", fmt.Errorf("hook %s: probe %s: %w", hook, helperName(fn), err)
			}
		}
		if !override {
			target = p.AttachTo
		}
		m, err := methodOf(p)
		if err != nil {
			return c, "", err
		}
		if m == methodTPBTF && f.tracepoint {
			return c, fmt.Sprintf("%s %s: skipped by EBTOOLS_FORCE=tracepoint", m, target), nil
		}
		why, err := k.available(m, target)
		if err != nil {
			return c, "", err
		}
		if why != "" {
			return c, fmt.Sprintf("%s %s: %s", m, target, why), nil
		}
		c.programs = append(c.programs, name)
		c.methods = append(c.methods, m)
		c.targets = append(c.targets, target)
	}
	return c, "", nil
}

// helperName is fn as the kernel's headers spell it: FnTaskPtRegs is
// bpf_task_pt_regs.
func helperName(fn asm.BuiltinFunc) string {
	var b strings.Builder
	b.WriteString("bpf")
	for _, r := range strings.TrimPrefix(fn.String(), "Fn") {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// ruleOut records that the program err names, if it attaches through BTF
// (tp_btf, fentry, fexit), cannot be loaded here, so the next resolve takes
// a fallback. It reports whether there was such a program.
func (k *kernel) ruleOut(chosen []choice, err error) bool {
	for _, c := range chosen {
		for i, name := range c.programs {
			m := c.methods[i]
			if m != methodTPBTF && m != methodFentry && m != methodFexit {
				continue
			}
			if strings.HasPrefix(err.Error(), "program "+name+":") {
				k.failed[failKey(m, c.targets[i])] = err
				return true
			}
		}
	}
	return false
}
