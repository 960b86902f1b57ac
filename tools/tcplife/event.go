package tcplife

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

// Column indexes of tcplife's own columns.
const (
	colLAddr = tools.NumTaskCols + iota
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
func (c *config) columns() []output.Column {
	addr := 15
	if c.wide {
		addr = 39
	}
	return tools.Columns(
		output.Column{Header: "LADDR", Key: "laddr", Width: addr},
		output.Column{Header: "LPORT", Key: "lport", Width: 5},
		output.Column{Header: "RADDR", Key: "raddr", Width: addr},
		output.Column{Header: "RPORT", Key: "rport", Width: 5},
		output.Column{Header: "TX_KB", Width: 6, Prec: 2},
		output.Column{Header: "RX_KB", Width: 6, Prec: 2},
		output.Column{Header: "MS", Prec: 2},
		output.Column{Key: "family"},
		output.Column{Key: "tx_bytes"},
		output.Column{Key: "rx_bytes"},
		output.Column{Key: "duration_ns"},
	)
}

// tcplife's own metrics (--metrics).
var (
	sessions  = &metrics.Metric{Name: "sessions_total", Help: "TCP sessions ended, one per socket, by family (ipv4, ipv6).", Labels: []string{"family"}}
	byteCount = &metrics.Metric{Name: "bytes_total", Help: "Payload bytes of the sessions ended, by direction (tx, rx).", Labels: []string{"direction"}}
	duration  = &metrics.Metric{Name: "session_duration_seconds", Help: "How long the sessions ended lasted.",
		Buckets: metrics.ExponentialBuckets(1e-4, 10, 8)}
)

// events is tcplife for the spine: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS.
func (c *config) events(prog ebrt.Program) tools.Events {
	var laddr, raddr []byte // formatted addresses, reused
	return tools.Events{
		Program:   prog,
		Task:      &c.task,
		Lineage:   true,
		Constants: c.constants(),
		Columns:   c.columns(),
		Layout:    []int{tools.ColPID, tools.ColComm, colLAddr, colLPort, colRAddr, colRPort, colTxKB, colRxKB, colMS},
		CSV:       c.csv,
		Metrics:   []*metrics.Metric{sessions, byteCount, duration},
		Measure: func(m *metrics.Meter, raw []byte) {
			e := tools.Header[tcplifeEvent](raw)
			family := "ipv4"
			if e.Family == afInet6 {
				family = "ipv6"
			}
			m.Add(sessions, 1, family)
			m.Add(byteCount, float64(e.TxBytes), "tx")
			m.Add(byteCount, float64(e.RxBytes), "rx")
			m.Observe(duration, float64(e.DurationNs)/1e9)
		},
		Fill: func(r *output.Row, raw []byte) (bool, error) {
			e := tools.Header[tcplifeEvent](raw)
			if e == nil {
				return false, tools.Malformed(errShort)
			}
			if e.Family != afInet && e.Family != afInet6 {
				return false, tools.Malformed(fmt.Errorf("decode tcplife event: address family %d", e.Family))
			}
			laddr = appendAddr(laddr[:0], e.Family, &e.Laddr)
			raddr = appendAddr(raddr[:0], e.Family, &e.Raddr)
			r.Str(colLAddr, laddr, false)
			r.Uint(colLPort, uint64(e.Lport))
			r.Str(colRAddr, raddr, false)
			r.Uint(colRPort, uint64(e.Rport))
			r.Float(colTxKB, float64(e.TxBytes)/1024)
			r.Float(colRxKB, float64(e.RxBytes)/1024)
			r.Float(colMS, float64(e.DurationNs)/1e6)
			if e.Family == afInet {
				r.Text(colFamily, "ipv4")
			} else {
				r.Text(colFamily, "ipv6")
			}
			r.Uint(colTxBytes, e.TxBytes)
			r.Uint(colRxBytes, e.RxBytes)
			r.Uint(colDuration, e.DurationNs)
			return true, nil
		},
	}
}

// appendAddr appends the address in b (4 or 16 bytes used) of family.
func appendAddr(dst []byte, family uint16, b *[16]uint8) []byte {
	if family == afInet {
		return netip.AddrFrom4([4]byte(b[:4])).AppendTo(dst)
	}
	return netip.AddrFrom16(*b).AppendTo(dst)
}

var errShort = errors.New("decode tcplife event: record shorter than its header")
