package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/ebtools/ebtools/internal/testutil"
)

func TestForceFromEnv(t *testing.T) {
	tests := []struct {
		env     string
		want    force
		wantErr bool
	}{
		{"", force{}, false},
		{"perfbuf", force{perfbuf: true}, false},
		{"tracepoint, kprobe", force{tracepoint: true, kprobe: true}, false},
		{"pair", force{pair: true}, false},
		{"ringbuf", force{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv("EBTOOLS_FORCE", tt.env)
			got, err := forceFromEnv()
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("forceFromEnv() = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func prog(typ ebpf.ProgramType, at ebpf.AttachType, section, target string) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{
		Type: typ, AttachType: at, SectionName: section, AttachTo: target, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	}
}

// testSpec has one program per attach method, some for hooks that exist on
// any kernel ebtools supports and some for hooks that exist on none.
func testSpec() *ebpf.CollectionSpec {
	return &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{
		"tp":         prog(ebpf.TracePoint, 0, "tracepoint/syscalls/sys_enter_openat", "syscalls/sys_enter_openat"),
		"tp_exit":    prog(ebpf.TracePoint, 0, "tracepoint/syscalls/sys_exit_openat", "syscalls/sys_exit_openat"),
		"tp_missing": prog(ebpf.TracePoint, 0, "tracepoint/syscalls/sys_enter_ebtools_none", "syscalls/sys_enter_ebtools_none"),
		"btf":        prog(ebpf.Tracing, ebpf.AttachTraceRawTp, "tp_btf/sched_switch", "sched_switch"),
		"kp":         prog(ebpf.Kprobe, 0, "kprobe/do_sys_openat2", "do_sys_openat2"),
		"fentry":     prog(ebpf.Tracing, ebpf.AttachTraceFEntry, "fentry/do_sys_openat2", "do_sys_openat2"),
	}}
}

func TestOrderChoices(t *testing.T) {
	sets := [][]string{{"btf"}, {"tp"}, {"kp"}, {"fentry"}}
	got := orderChoices(testSpec(), sets, force{kprobe: true})
	if want := "[[kp] [fentry] [btf] [tp]]"; fmtSets(got) != want {
		t.Errorf("forced order = %s, want %s", fmtSets(got), want)
	}
	if got := orderChoices(testSpec(), sets, force{}); fmtSets(got) != fmtSets(sets) {
		t.Errorf("unforced order changed: %s", fmtSets(got))
	}
}

func fmtSets(s [][]string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, set := range s {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("[" + strings.Join(set, " ") + "]")
	}
	return b.String() + "]"
}

// TestResolve runs hook selection against this kernel: the choice made must
// be the best one that really exists here, kprobe/fentry included.
func TestResolve(t *testing.T) {
	testutil.RequirePrivileged(t)
	k, err := newKernel("")
	if err != nil {
		t.Fatal(err)
	}
	kprobeOK := k.kprobesMissing() == ""
	fentryOK := k.probeTracing(ebpf.AttachTraceFEntry, "do_sys_openat2") == nil
	t.Logf("this kernel: kprobes %v, fentry %v", kprobeOK, fentryOK)

	// "tp_exit" needs bpf_task_pt_regs (5.15+, as every kernel the tests
	// run on), or a helper no kernel has.
	regs := map[string][]asm.BuiltinFunc{"tp_exit": {asm.FnTaskPtRegs}}
	none := map[string][]asm.BuiltinFunc{"tp_exit": {asm.BuiltinFunc(1 << 20)}}
	exitFirst := Hook{Name: "h", Choices: [][]string{{"tp_exit"}, {"tp"}}}
	tests := []struct {
		name    string
		force   force
		hook    Hook
		helpers map[string][]asm.BuiltinFunc
		want    string // chosen program, "" if pruned
		err     error
	}{
		{"tp_btf first", force{}, Hook{Name: "h", Choices: [][]string{{"btf"}, {"tp"}}}, nil, "btf", nil},
		{"forced classic tracepoint", force{tracepoint: true}, Hook{Name: "h", Choices: [][]string{{"btf"}, {"tp"}}}, nil, "tp", nil},
		{"missing tracepoint falls back", force{}, Hook{Name: "h", Choices: [][]string{{"tp_missing"}, {"tp"}}}, nil, "tp", nil},
		{"optional missing is pruned", force{}, Hook{Name: "h", Optional: true, Choices: [][]string{{"tp_missing"}}}, nil, "", nil},
		{"required missing fails", force{}, Hook{Name: "h", Choices: [][]string{{"tp_missing"}}}, nil, "", ErrNoHook},
		{"kprobe only where kprobes exist", force{kprobe: true}, Hook{Name: "h", Choices: [][]string{{"tp"}, {"kp"}}}, nil,
			map[bool]string{true: "kp", false: "tp"}[kprobeOK], nil},
		{"target override", force{}, Hook{Name: "h", Choices: [][]string{{"tp@syscalls/sys_enter_close"}}}, nil, "tp", nil},
		{"helpers this kernel has", force{}, exitFirst, regs, "tp_exit", nil},
		{"forced pair: no program with helpers", force{pair: true}, exitFirst, regs, "tp", nil},
		{"a helper this kernel lacks", force{}, exitFirst, none, "tp", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chosen, pruned, err := resolve(testSpec(), Program{Hooks: []Hook{tt.hook}, Helpers: tt.helpers}, k, tt.force)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			got := ""
			if len(chosen) == 1 {
				got = chosen[0].programs[0]
			}
			if got != tt.want {
				t.Errorf("chose %q (pruned %v), want %q", got, pruned, tt.want)
			}
			if tt.want == "" && len(pruned) != 1 {
				t.Errorf("pruned = %v, want the hook", pruned)
			}
		})
	}
}

// TestFallbackAfterFailedLoad prefers fentry (as EBTOOLS_FORCE=kprobe
// does): where fentry programs do not load, the load is tried again with
// the next choice.
func TestFallbackAfterFailedLoad(t *testing.T) {
	testutil.RequirePrivileged(t)
	k, err := newKernel("")
	if err != nil {
		t.Fatal(err)
	}
	fentryOK := k.probeTracing(ebpf.AttachTraceFEntry, "do_sys_openat2") == nil
	t.Setenv("EBTOOLS_FORCE", "kprobe")
	p := Program{
		Name:  "fallback",
		Load:  func() (*ebpf.CollectionSpec, error) { return testSpec(), nil },
		Hooks: []Hook{{Name: "openat", Choices: [][]string{{"tp"}, {"fentry"}}}},
	}
	s, chosen, err := load(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[bool]string{true: "fentry", false: "tp"}[fentryOK]
	if got := chosen[0].programs[0]; got != want {
		t.Errorf("chose %q, want %q (fentry loads here: %v)", got, want, fentryOK)
	}
}

// TestVerifierRejection: a program the verifier refuses gives one sentence.
func TestVerifierRejection(t *testing.T) {
	testutil.RequirePrivileged(t)
	bad := prog(ebpf.TracePoint, 0, "tracepoint/syscalls/sys_enter_openat", "syscalls/sys_enter_openat")
	bad.Instructions = asm.Instructions{asm.LoadMem(asm.R0, asm.R1, 30000, asm.DWord), asm.Return()}
	p := Program{
		Name: "bad",
		Load: func() (*ebpf.CollectionSpec, error) {
			return &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"bad": bad}}, nil
		},
		Hooks: []Hook{{Name: "openat", Choices: [][]string{{"bad"}}}},
	}
	_, err := Start(context.Background(), p, Options{})
	if err == nil || !strings.Contains(err.Error(), "the kernel's verifier rejected it (") || strings.Contains(err.Error(), "\n") {
		t.Errorf("Start = %v, want a one-line verifier rejection", err)
	}
}

func TestBTFFile(t *testing.T) {
	if _, err := newKernel("/nonexistent/vmlinux.btf"); err == nil || !strings.Contains(err.Error(), `load BTF "/nonexistent/vmlinux.btf"`) {
		t.Errorf("newKernel with a missing file = %v", err)
	}
	if _, err := newKernel(kernelBTFPath); err != nil {
		t.Errorf("newKernel(%q) = %v", kernelBTFPath, err)
	}
}

func TestPerfBufferSize(t *testing.T) {
	const page = 4096
	for _, tt := range []struct {
		ring uint32
		cpus int
		want int
	}{
		{1 << 20, 2, 128 * page},        // 1 MiB ring: 512 KiB per CPU
		{8 << 20, 2, 1024 * page},       // an 8 MiB ring
		{8 << 20, 3, 1024 * page},       // 2.7 MiB per CPU, rounded up
		{1 << 20, 64, perfPages * page}, // never below perfPages
		{0, 4, perfPages * page},        // no size in the object
	} {
		if got := perfBufferSize(tt.ring, tt.cpus, page); got != tt.want {
			t.Errorf("perfBufferSize(%d, %d) = %d pages, want %d", tt.ring, tt.cpus, got/page, tt.want/page)
		}
	}
}

func TestWakeupStrideFor(t *testing.T) {
	for _, tt := range []struct {
		name string
		ring uint32
		cpus int
		want uint32
	}{
		{"opensnoop's 2 MiB ring, 2 CPUs", 2 << 20, 2, 64 << 10},
		{"1 MiB, 8 CPUs", 1 << 20, 8, 8 << 10},
		{"a tiny ring", 4096, 2, 128},
		{"more CPUs than bytes: query every event", 4096, 512, 0},
		{"no CPU count: as one", 1 << 20, 0, 64 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := wakeupStrideFor(tt.ring, tt.cpus); got != tt.want {
				t.Errorf("wakeupStrideFor(%d, %d) = %d, want %d", tt.ring, tt.cpus, got, tt.want)
			}
		})
	}
}
