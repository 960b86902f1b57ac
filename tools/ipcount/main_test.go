package ipcount

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
)

// helperEnv makes the test binary a UDP sender instead of running tests:
// SRC DST N sends N datagrams of payloadSize bytes from SRC to DST.
const helperEnv = "EBTOOLS_IPCOUNT_HELPER"

const payloadSize = 32

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		if err := send(os.Args[1], os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testutil.Main(m)
}

func send(src, dst, count string) error {
	n, err := strconv.Atoi(count)
	if err != nil {
		return err
	}
	laddr := &net.UDPAddr{IP: net.ParseIP(src)}
	raddr := &net.UDPAddr{IP: net.ParseIP(dst), Port: 9}
	// Unconnected, so the receiver's ICMP port-unreachable errors do not
	// come back as write errors.
	c, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return err
	}
	defer c.Close()
	dropped0, err := txDropped()
	if err != nil {
		return err
	}
	payload := make([]byte, payloadSize)
	// Exactly n frames must reach XDP. The veth drops a frame before XDP
	// sees it when its 256-frame XDP queue is full, and counts it as the
	// sender's tx_dropped: send one more for each of those.
	resent := 0
	for sent := 0; sent < n+resent; sent++ {
		if _, err := c.WriteToUDP(payload, raddr); err != nil {
			return err
		}
		// Paced so that the queue rarely fills (longer where the machine
		// is slower).
		if sent%64 == 63 || sent == n+resent-1 {
			time.Sleep(testutil.Scaled(200 * time.Microsecond))
			d, err := txDropped()
			if err != nil {
				return err
			}
			resent = int(d - dropped0)
		}
	}
	if resent > 0 {
		fmt.Printf("the veth dropped %d frames before XDP; sent that many more\n", resent)
	}
	return nil
}

// txDropped sums tx_dropped over the network namespace's interfaces.
func txDropped() (uint64, error) {
	files, err := filepath.Glob("/sys/class/net/*/statistics/tx_dropped")
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("read tx_dropped: no interface statistics in /sys/class/net (%v)", err)
	}
	var sum uint64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, fmt.Errorf("read tx_dropped: %w", err)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read tx_dropped: %w", err)
		}
		sum += n
	}
	return sum, nil
}
