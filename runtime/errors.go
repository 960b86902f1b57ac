package runtime

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
)

// Conditions a caller may branch on with errors.Is.
var (
	// ErrPrivileges means the process lacks a capability a tool needs; the
	// error is a *PrivilegeError that names it.
	ErrPrivileges = errors.New("missing capabilities")
	// ErrNoBTF means neither the kernel nor --btf provides BTF type information.
	ErrNoBTF = errors.New("this kernel has no BTF (/sys/kernel/btf/vmlinux is missing, CONFIG_DEBUG_INFO_BTF is off): pass --btf PATH with BTF for this kernel")
	// ErrNoTracefs means tracefs is neither mounted nor mountable.
	ErrNoTracefs = errors.New("tracefs is not mounted and could not be mounted at /sys/kernel/tracing")
	// ErrNoHook means no attach method for a required hook exists on this kernel.
	ErrNoHook = errors.New("no usable hook on this kernel")
	// ErrMalformed, returned by a Handler, drops one event it cannot decode:
	// Run counts it, reports it like a lost event and goes on.
	ErrMalformed = errors.New("malformed event")
)

// loadError turns a collection load failure into one sentence; the full
// verifier log goes to the debug log.
func (s *Session) loadError(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		s.log.Debug("verifier log", "log", fmt.Sprintf("%+v", ve))
		return fmt.Errorf("load %s: the kernel's verifier rejected it (%s); rerun with --log-level debug for the full verifier log", s.prog.Name, lastLine(ve.Log))
	}
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("load %s: this kernel lacks a BPF feature it needs: %w", s.prog.Name, err)
	}
	return fmt.Errorf("load %s: %w", s.prog.Name, err)
}

func lastLine(log []string) string {
	for i := len(log) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(log[i]); l != "" && !strings.HasPrefix(l, "processed ") {
			return l
		}
	}
	return "no verifier log"
}
