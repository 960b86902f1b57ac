package ipcount

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The test's own traffic generator: UDP frames written to a veth end with
// an AF_PACKET socket, from any source address. The veth refuses a frame
// (ENOBUFS) when its queue towards XDP is full; the generator then waits
// and sends it again, so every frame it counts reached the program.

// udpFrame builds an Ethernet frame holding a UDP datagram, with valid IPv4
// header and UDP checksums so that the receiving stack accepts it.
func udpFrame(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, dport uint16, payload int) []byte {
	b := make([]byte, 0, 14+40+8+payload)
	b = append(b, dstMAC...)
	b = append(b, srcMAC...)
	udpLen := 8 + payload
	if src.Is4() {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+udpLen))
		ip[8] = 64
		ip[9] = 17
		s, d := src.As4(), dst.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		binary.BigEndian.PutUint16(ip[10:], ^checksum(ip, 0))
		b = append(b, ip...)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x86DD)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(udpLen))
		ip[6] = 17
		ip[7] = 64
		s, d := src.As16(), dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		b = append(b, ip...)
	}
	udp := make([]byte, udpLen)
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(udpLen))
	if src.Is6() {
		// The pseudo-header: addresses, length, next header.
		var ph []byte
		s, d := src.As16(), dst.As16()
		ph = append(append(ph, s[:]...), d[:]...)
		ph = binary.BigEndian.AppendUint32(ph, uint32(udpLen))
		ph = binary.BigEndian.AppendUint32(ph, 17)
		sum := ^checksum(udp, sumWords(ph))
		if sum == 0 {
			sum = 0xffff
		}
		binary.BigEndian.PutUint16(udp[6:], sum)
	}
	return append(b, udp...)
}

func sumWords(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func checksum(b []byte, init uint32) uint16 {
	s := init + sumWords(b)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// sender writes frames to one interface.
type sender struct {
	fd      int
	retries int
}

func newSender(iface string) (*sender, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind AF_PACKET socket to %s: %w", iface, err)
	}
	// Straight to the driver: a full veth queue then says ENOBUFS.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set PACKET_QDISC_BYPASS: %w", err)
	}
	return &sender{fd: fd}, nil
}

// send writes f, again after a pause for as long as the veth refuses it.
func (s *sender) send(f []byte) error {
	for {
		_, err := unix.Write(s.fd, f)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.ENOBUFS) && !errors.Is(err, unix.EAGAIN) {
			return fmt.Errorf("send frame: %w", err)
		}
		s.retries++
		time.Sleep(20 * time.Microsecond)
	}
}

// helper runs in the test's namespace:
//
//	flood IFACE DSTMAC DST RANDOM HEAVY,... PERHEAVY: RANDOM frames from
//	  random IPv4 sources in 100.64.0.0/10 and PERHEAVY from each HEAVY,
//	  shuffled together;
//	send IFACE DSTMAC SRC DST DPORT N PPS: N frames from SRC, paced at PPS
//	  (0: as fast as possible).
//
// It prints "sent N retried R seconds S".
func helper(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("helper: want a command, an interface and a MAC address")
	}
	s, err := newSender(args[1])
	if err != nil {
		return err
	}
	dstMAC, err := net.ParseMAC(args[2])
	if err != nil {
		return err
	}
	ifi, _ := net.InterfaceByName(args[1])
	srcMAC := ifi.HardwareAddr
	began := time.Now()
	sent := 0
	switch {
	case args[0] == "flood" && len(args) == 7:
		dst := netip.MustParseAddr(args[3])
		random, _ := strconv.Atoi(args[4])
		perHeavy, _ := strconv.Atoi(args[6])
		var heavy [][]byte
		for _, h := range strings.Split(args[5], ",") {
			heavy = append(heavy, udpFrame(dstMAC, srcMAC, netip.MustParseAddr(h), dst, 9, 18))
		}
		rnd := udpFrame(dstMAC, srcMAC, netip.MustParseAddr("100.64.0.1"), dst, 9, 18)
		total := random + perHeavy*len(heavy)
		left := make([]int, len(heavy))
		for i := range left {
			left[i] = perHeavy
		}
		r := rand.New(rand.NewPCG(1, 2))
		for sent < total {
			// Each frame is a heavy one with the share of heavy frames left.
			i := r.IntN(total - sent)
			f := rnd
			for h := range heavy {
				if i < left[h] {
					f = heavy[h]
					left[h]--
					break
				}
				i -= left[h]
			}
			if &f[0] == &rnd[0] {
				// 100.64.0.0/10 (shared address space): 4M addresses.
				binary.BigEndian.PutUint32(rnd[26:], 0x64400000|r.Uint32()&0x3fffff)
				binary.BigEndian.PutUint16(rnd[24:], 0)
				binary.BigEndian.PutUint16(rnd[24:], ^checksum(rnd[14:34], 0))
			}
			if err := s.send(f); err != nil {
				return err
			}
			sent++
		}
	case args[0] == "send" && len(args) == 8:
		src, dst := netip.MustParseAddr(args[3]), netip.MustParseAddr(args[4])
		dport, _ := strconv.Atoi(args[5])
		n, _ := strconv.Atoi(args[6])
		pps, _ := strconv.Atoi(args[7])
		f := udpFrame(dstMAC, srcMAC, src, dst, uint16(dport), 18)
		for sent < n {
			if pps > 0 {
				if ahead := time.Duration(sent)*time.Second/time.Duration(pps) - time.Since(began); ahead > 0 {
					time.Sleep(ahead)
				}
			}
			if err := s.send(f); err != nil {
				return err
			}
			sent++
		}
	default:
		return fmt.Errorf("helper: unknown command %q", args)
	}
	fmt.Printf("sent %d retried %d seconds %.3f\n", sent, s.retries, time.Since(began).Seconds())
	return nil
}
