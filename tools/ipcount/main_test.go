package ipcount

import (
	"fmt"
	"net"
	"os"
	"strconv"
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
	payload := make([]byte, payloadSize)
	for i := 0; i < n; i++ {
		if _, err := c.WriteToUDP(payload, raddr); err != nil {
			return err
		}
		// A veth with native XDP queues 256 frames: pace the sender so none
		// is dropped before XDP sees it (longer where the machine is slower).
		if i%64 == 63 {
			time.Sleep(200 * time.Microsecond * time.Duration(testutil.Slowdown()))
		}
	}
	return nil
}
