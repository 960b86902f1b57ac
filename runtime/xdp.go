package runtime

import (
	"errors"
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// XDP attach modes, as --mode names them.
const (
	XDPAuto    = "auto"
	XDPNative  = "native"
	XDPGeneric = "generic"
)

// attachXDP attaches p to the interface named iface through a BPF link, so
// the program goes away with the process however it ends (kill -9 too). It
// never replaces an XDP program someone else attached.
func (s *Session) attachXDP(p *ebpf.Program, iface, mode string) (link.Link, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("attach XDP: no network interface %q", iface)
	}
	var modes []string
	switch mode {
	case "", XDPAuto:
		modes = []string{XDPNative, XDPGeneric}
	case XDPNative, XDPGeneric:
		modes = []string{mode}
	default:
		return nil, fmt.Errorf("attach XDP: unknown mode %q (want auto, native or generic)", mode)
	}
	for i, m := range modes {
		flags := link.XDPDriverMode
		if m == XDPGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: p, Interface: ifi.Index, Flags: flags})
		switch {
		case err == nil:
			s.log.Debug("attached XDP", "interface", iface, "mode", m)
			return l, nil
		case errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EEXIST):
			return nil, fmt.Errorf("attach XDP to %q: the interface already has an XDP program, and ebtools does not replace it", iface)
		case i+1 < len(modes):
			s.log.Debug("native XDP not available, trying generic", "interface", iface, "error", err)
		case m == XDPNative:
			return nil, fmt.Errorf("attach XDP to %q in native mode: the driver does not support it (%v); use --mode generic", iface, err)
		default:
			return nil, fmt.Errorf("attach XDP to %q in %s mode: %w", iface, m, err)
		}
	}
	return nil, fmt.Errorf("attach XDP to %q: no mode left", iface)
}
