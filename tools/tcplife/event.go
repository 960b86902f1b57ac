package tcplife

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

// Column indexes into columns().
const (
	colPID = iota
	colComm
	colLAddr
	colLPort
	colRAddr
	colRPort
	colTxKB
	colRxKB
	colMS
	colFamily
	colTxBytes
	colRxBytes
	colDuration
)

// columns is tcplife's output, as libbpf-tools' tcplife in text; JSON has
// the byte counts and the duration exact.
func columns(cfg config) []output.Column {
	addr := 15
	if cfg.wide {
		addr = 39
	}
	return []output.Column{
		colPID:      {Header: "PID", Key: "pid", Width: 7},
		colComm:     {Header: "COMM", Key: "comm", Width: 16},
		colLAddr:    {Header: "LADDR", Key: "laddr", Width: addr},
		colLPort:    {Header: "LPORT", Key: "lport", Width: 5},
		colRAddr:    {Header: "RADDR", Key: "raddr", Width: addr},
		colRPort:    {Header: "RPORT", Key: "rport", Width: 5},
		colTxKB:     {Header: "TX_KB", Width: 6, Prec: 2},
		colRxKB:     {Header: "RX_KB", Width: 6, Prec: 2},
		colMS:       {Header: "MS", Prec: 2},
		colFamily:   {Key: "family"},
		colTxBytes:  {Key: "tx_bytes"},
		colRxBytes:  {Key: "rx_bytes"},
		colDuration: {Key: "duration_ns"},
	}
}

type handler struct {
	tools.Printer
	laddr, raddr []byte // formatted addresses, reused
}

func newHandler(cfg config, format output.Format, out *output.Writer, clock *output.Clock) *handler {
	opts := output.Options{Time: cfg.time, Clock: clock, CSV: cfg.csv}
	return &handler{Printer: tools.NewPrinter(out, format, columns(cfg), opts)}
}

// appendAddr appends the address in b (4 or 16 bytes used) of family.
func appendAddr(dst []byte, family uint16, b *[16]uint8) []byte {
	if family == afInet {
		return netip.AddrFrom4([4]byte(b[:4])).AppendTo(dst)
	}
	return netip.AddrFrom16(*b).AppendTo(dst)
}

var errShort = errors.New("decode tcplife event: record shorter than its header")

// Event implements runtime.Handler.
func (h *handler) Event(raw []byte) error {
	e := tools.Header[tcplifeEvent](raw)
	if e == nil {
		return tools.Malformed(errShort)
	}
	if e.Family != afInet && e.Family != afInet6 {
		return tools.Malformed(fmt.Errorf("decode tcplife event: address family %d", e.Family))
	}
	r := h.Row
	r.Reset(e.KtimeNs)
	r.Uint(colPID, uint64(e.Pid))
	r.Str(colComm, tools.Comm(&e.Comm), false)
	h.laddr = appendAddr(h.laddr[:0], e.Family, &e.Laddr)
	h.raddr = appendAddr(h.raddr[:0], e.Family, &e.Raddr)
	r.Str(colLAddr, h.laddr, false)
	r.Uint(colLPort, uint64(e.Lport))
	r.Str(colRAddr, h.raddr, false)
	r.Uint(colRPort, uint64(e.Rport))
	r.Float(colTxKB, float64(e.TxBytes)/1024)
	r.Float(colRxKB, float64(e.RxBytes)/1024)
	r.Float(colMS, float64(e.SpanNs)/1e6)
	if e.Family == afInet {
		r.Text(colFamily, "ipv4")
	} else {
		r.Text(colFamily, "ipv6")
	}
	r.Uint(colTxBytes, e.TxBytes)
	r.Uint(colRxBytes, e.RxBytes)
	r.Uint(colDuration, e.SpanNs)
	return h.Print()
}
