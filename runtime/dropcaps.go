package runtime

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"syscall"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// keptCaps is what the process keeps once attached.
type keptCaps uint64

func (k keptCaps) String() string {
	if k == 0 {
		return "none"
	}
	var names []string
	for _, c := range []Capability{CapBPF} {
		if hasCap(uint64(k), c) {
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ",")
}

// dropCapabilities clears every capability of the process (effective,
// permitted, inheritable, and so ambient) on all its threads, once the
// programs are attached: reading maps, ring and perf buffers needs none.
// Before Linux 5.19, though, the kernel refuses every bpf() command, map
// reads included, to a process without CAP_BPF when
// kernel.unprivileged_bpf_disabled is set; where probe (such a call on one
// of the tool's maps) fails without it, CAP_BPF is kept.
func dropCapabilities(probe func() error) (keptCaps, error) {
	var perm uint64
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	perm = uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
	if perm == 0 {
		return 0, nil
	}
	// First only the effective set, which can be restored from the
	// permitted one, to see whether bpf() still works without it.
	if err := capsetAll(0, perm); err != nil {
		return 0, err
	}
	keep := keptCaps(0)
	if err := probe(); errors.Is(err, unix.EPERM) && hasCap(perm, CapBPF) {
		keep = keptCaps(1 << CapBPF.bit)
	}
	if err := capsetAll(uint64(keep), uint64(keep)); err != nil {
		return 0, err
	}
	return keep, nil
}

// capsetAll sets the effective and permitted capabilities of every thread
// of the process (capset(2) changes only the calling thread's) and clears
// the inheritable ones.
func capsetAll(eff, perm uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(eff), Permitted: uint32(perm)},
		{Effective: uint32(eff >> 32), Permitted: uint32(perm >> 32)},
	}
	// AllThreadsSyscall needs a binary built without cgo (CGO_ENABLED=0,
	// as make build does); with cgo it returns ENOTSUP.
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	goruntime.KeepAlive(&hdr)
	goruntime.KeepAlive(&data)
	if errno != 0 {
		return fmt.Errorf("drop capabilities: %w", errno)
	}
	return nil
}

// probeBPF returns a bpf() call on one of coll's maps: what the process
// still does once attached.
func probeBPF(coll *ebpf.Collection) func() error {
	return func() error {
		for _, m := range coll.Maps {
			_, err := m.Info()
			return err
		}
		return nil
	}
}
