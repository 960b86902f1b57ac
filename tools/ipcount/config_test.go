package ipcount

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/tools"
)

// parse parses args as `ebtools ipcount` would: into a fresh Tool's flags,
// then parseConfig.
func parse(t testing.TB, args []string) (config, error) {
	t.Helper()
	tool := &Tool{}
	return testutil.Parse(t, tool.Flags(), args, func(c *cli.Context) (config, error) {
		return parseConfig(tool.flags, c.Args().Slice())
	})
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // "" if none
		check   func(config) bool
	}{
		{[]string{"eth1"}, "", func(c config) bool {
			return c.iface == "eth1" && c.interval == 2*time.Second && c.top == 10 && c.slotBits == 12 && c.mode == "auto" &&
				c.prefix4 == 32 && c.prefix6 == 128 && c.by == bySource && !c.dropping()
		}},
		{[]string{"-i", "0.5", "-n", "3", "--sort", "bytes", "--cumulative", "--mode", "generic", "--max-entries", "1000", "veth0"}, "", func(c config) bool {
			return c.interval == 500*time.Millisecond && c.top == 3 && c.byBytes && c.cumulative && c.mode == "generic" && c.slotBits == 10
		}},
		{[]string{"--prefix4", "24", "--prefix6", "48", "--by", "dport", "--drop", "10.0.0.0/8", "--rate-limit", "100", "--dry-run", "eth1"}, "", func(c config) bool {
			return c.prefix4 == 24 && c.prefix6 == 48 && c.by == byDport && c.rateLimit == 100 && c.dryRun && c.dropping()
		}},
		{nil, "want one interface name", nil},
		{[]string{"a", "b"}, "want one interface name", nil},
		{[]string{"--sort", "size", "eth1"}, "--sort", nil},
		{[]string{"--mode", "offload", "eth1"}, "--mode", nil},
		{[]string{"--by", "port", "eth1"}, "--by", nil},
		{[]string{"-n", "0", "eth1"}, "--top 0", nil},
		{[]string{"-n", "4294967297", "eth1"}, "--top 4294967297", nil},
		{[]string{"-i", "0", "eth1"}, "--interval", nil},
		{[]string{"-i", "NaN", "eth1"}, "--interval", nil},
		{[]string{"-i", "1e300", "eth1"}, "--interval", nil},
		{[]string{"--max-entries", "0", "eth1"}, "--max-entries 0", nil},
		{[]string{"--max-entries", "4294967296", "eth1"}, "--max-entries 4294967296", nil},
		{[]string{"--prefix4", "33", "eth1"}, "--prefix4 33", nil},
		{[]string{"--prefix6", "-1", "eth1"}, "--prefix6 -1", nil},
		{[]string{"--rate-limit", "4294967296", "eth1"}, "--rate-limit 4294967296", nil},
		{[]string{"--rate-limit", "-5", "eth1"}, "--rate-limit -5", nil},
		{[]string{"--dry-run", "eth1"}, "--dry-run", nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, perr := parse(t, tt.args)
			if tt.wantErr == "" {
				if perr != nil || !tt.check(cfg) {
					t.Errorf("config %+v, error %v", cfg, perr)
				}
				return
			}
			if !errors.Is(perr, tools.ErrUsage) || !strings.Contains(perr.Error(), tt.wantErr) {
				t.Errorf("error %v, want a usage error with %q", perr, tt.wantErr)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	good := "# blocked\n203.0.113.0/24\n\n  2001:db8::/32  # a network\n198.51.100.7\n2001:db8:1::1\n10.1.2.3/8\n"
	got, err := parseList(strings.NewReader(good), "f")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32", "2001:db8:1::1/128", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("line %d: %v, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []struct{ text, want string }{
		{"10.0.0.0/8\n# ok\nnot-an-address\n", "f line 3: \"not-an-address\""},
		{"10.0.0.0/33\n", "f line 1:"},
		{"::ffff:10.0.0.0/104\n", "f line 1:"},
		{"fe80::1%eth0\n", "f line 1:"},
	} {
		if _, err := parseList(strings.NewReader(bad.text), "f"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.text, err, bad.want)
		}
	}
}

func TestUniformAndKeys(t *testing.T) {
	l := &dropList{prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("2001:db8::/64")}}
	for _, tt := range []struct {
		p4, p6 int
		want   uint32
	}{{32, 128, 3}, {16, 64, 3}, {8, 128, 2}, {32, 48, 1}, {8, 48, 0}} {
		if got := l.uniform(tt.p4, tt.p6); got != tt.want {
			t.Errorf("uniform(%d, %d) = %d, want %d", tt.p4, tt.p6, got, tt.want)
		}
	}
	if k := lpmKey(netip.MustParsePrefix("10.0.0.0/16")); k.Prefixlen != 32+112 || k.Family != 4 || netip.AddrFrom16(k.Addr).String() != "::ffff:10.0.0.0" {
		t.Errorf("IPv4 key %+v", k)
	}
	// Bytes 8 to 15 of a /120 mask: seven 0xff and a 0, as a little-endian word.
	if _, m := mask(96 + 24); m != 0x00ffffffffffffff {
		t.Errorf("mask(120) = %#x", m)
	}
}

func TestParseProcTCP(t *testing.T) {
	tcp := "  sl  local_address rem_address   st tx_queue rx_queue\n" +
		"   0: 0100C90A:0016 0200C90A:D431 01 00000000:00000000\n" +
		"   1: 00000000:0016 00000000:0000 0A 00000000:00000000\n"
	got := parseTCP([]byte(tcp))
	if len(got) != 1 || got[0].local.String() != "10.201.0.1:22" || got[0].remote.String() != "10.201.0.2:54321" {
		t.Errorf("got %v", got)
	}
	tcp6 := "  sl  local_address                         remote_address\n" +
		"   0: 00000000000000000000000001000000:0016 B80D0120000000000000000002000000:0050 01 x\n"
	got = parseTCP([]byte(tcp6))
	if len(got) != 1 || got[0].local.String() != "[::1]:22" || got[0].remote.String() != "[2001:db8::2]:80" {
		t.Errorf("got %v", got)
	}
}
