package ipcount

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

func key(s string, proto uint8, dport uint16) Key {
	a := netip.MustParseAddr(s)
	return Key{Addr: a.As16(), V6: a.Is6(), Proto: proto, Dport: dport}
}

// testInterval is an interval of known traffic: three keys, one of them
// dropped, and frames that are not from a source.
func testInterval() *interval {
	iv := &interval{keys: map[Key]Counts{
		key("10.201.0.0", 17, 53):  {Packets: 10000, Bytes: 600000},
		key("203.0.113.0", 6, 443): {ListPackets: 700, ListBytes: 42000},
		key("fd01::", 17, 53):      {Packets: 300, Bytes: 24000, RatePackets: 50, RateBytes: 4000},
	}, nonIP: Counts{Packets: 12, Bytes: 720}, malformed: Counts{Packets: 1, Bytes: 20},
		evicted: Counts{Packets: 5, Bytes: 300}, evictions: 2, untracked: Counts{Packets: 7, Bytes: 420}}
	iv.ipv4 = Counts{Packets: 10012, Bytes: 600720, ListPackets: 700, ListBytes: 42000}
	iv.ipv6 = Counts{Packets: 300, Bytes: 24000, RatePackets: 50, RateBytes: 4000}
	return iv
}

func TestReportBuild(t *testing.T) {
	iv := testInterval()
	r := Report{IPv4: iv.ipv4, IPv6: iv.ipv6, NonIP: iv.nonIP, Malformed: iv.malformed}
	r.build(iv.keys, 2, false, nil)
	if len(r.Top) != 2 || r.Top[0].Key != key("10.201.0.0", 17, 53) || r.Top[1].Key != key("203.0.113.0", 6, 443) {
		t.Fatalf("top %+v", r.Top)
	}
	// OTHER is every IP packet not in the top rows: the third key and the
	// 12 packets of untracked or evicted keys.
	if want := (Counts{Packets: 312, Bytes: 24720, RatePackets: 50, RateBytes: 4000}); r.Other != want {
		t.Errorf("other %+v, want %+v", r.Other, want)
	}
	if r.Total.AllPackets() != 10012+700+300+50+12+1 || r.Sources != 3 {
		t.Errorf("total %+v, sources %d", r.Total, r.Sources)
	}
}

func TestHistoryBounded(t *testing.T) {
	h := newHistory(4)
	for i := 0; i < 3; i++ {
		iv := &interval{keys: map[Key]Counts{}}
		for j := 0; j < 5; j++ {
			iv.keys[key(netip.AddrFrom4([4]byte{10, 0, byte(i), byte(j)}).String(), 0, 0)] = Counts{Packets: uint64(1 + j)}
		}
		iv.keys[key("10.9.9.9", 0, 0)] = Counts{Packets: 1000}
		h.add(iv)
	}
	if len(h.keys) > 4 || h.keys[key("10.9.9.9", 0, 0)].Packets != 3000 {
		t.Errorf("history %v", h.keys)
	}
}

func TestReportGolden(t *testing.T) {
	for _, format := range []output.Format{output.Text, output.JSON} {
		name := map[output.Format]string{output.Text: "text", output.JSON: "json"}[format]
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			env := &tools.Env{Out: output.NewWriter(&buf), Format: format}
			cfg, err := parse(t, []string{"--prefix4", "24", "--prefix6", "64", "--by", "dport", "--drop", "203.0.113.0/24", "--rate-limit", "100", "veth-x"})
			if err != nil {
				t.Fatal(err)
			}
			r := newReporter(cfg, env, nil)
			r.p = tools.NewPrinter(env.Out, format, columns(cfg, format), output.Options{Clock: output.NewClockAt(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), 0)})
			r.mono = func() uint64 { return uint64(4*time.Minute + 5*time.Second) }
			iv := testInterval()
			rep := Report{Time: time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC), Seconds: 2, Interval: 3,
				IPv4: iv.ipv4, IPv6: iv.ipv6, NonIP: iv.nonIP, Malformed: iv.malformed,
				Evicted: iv.evicted, Untracked: iv.untracked, Evictions: iv.evictions}
			rep.build(iv.keys, 10, false, nil)
			if err := r.print(&rep); err != nil {
				t.Fatal(err)
			}
			r.out.Flush()
			for _, line := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
				if len(line) > 1 {
					testutil.OneLine(t, line, format == output.JSON)
				}
			}
			testutil.Golden(t, filepath.Join("testdata", name+".golden"), buf.Bytes())
		})
	}
}
