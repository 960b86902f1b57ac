package runtime

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Capability numbers missing from older headers.
const (
	capPerfmon = 38
	capBPF     = 39
)

// effectiveCaps returns the effective capability set of this process.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}

func hasCap(set uint64, c int) bool { return set&(1<<uint(c)) != 0 }

// CheckPrivileges returns ErrPrivileges unless the process may load and
// attach tracing programs: CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON (5.8+).
// netAdmin adds CAP_NET_ADMIN, which XDP needs.
func CheckPrivileges(netAdmin bool) error {
	caps, err := effectiveCaps()
	if err != nil {
		return err
	}
	ok := hasCap(caps, unix.CAP_SYS_ADMIN) || (hasCap(caps, capBPF) && hasCap(caps, capPerfmon))
	if netAdmin && !hasCap(caps, unix.CAP_NET_ADMIN) {
		ok = false
	}
	if !ok {
		return ErrPrivileges
	}
	return nil
}
