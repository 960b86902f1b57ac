package ipcount

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools"
)

func addr(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func v4mapped(s string) [16]byte { return netip.AddrFrom16(netip.MustParseAddr(s).As16()).As16() }

func TestReportGolden(t *testing.T) {
	st := status{
		now:     time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC),
		elapsed: 2 * time.Second,
		sources: 3,
		evicted: 1,
		totals:  [numTotals]counts{totalNonIP: {12, 720}, totalMalformed: {1, 20}},
		sum:     counts{30000, 2420000},
	}
	top := []row{
		{v4mapped("10.201.0.2"), counts{10000, 740000}},
		{addr("fd01::2"), counts{10000, 940000}},
	}
	for _, format := range []output.Format{output.Text, output.JSON} {
		name := map[output.Format]string{output.Text: "text", output.JSON: "json"}[format]
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			env := &tools.Env{Out: output.NewWriter(&buf), Format: format}
			r := newReporter(config{iface: "veth-x", top: 10}, env, nil, nil, nil)
			var err error
			if format == output.JSON {
				err = r.printJSON(st, top)
				if !json.Valid(bytes.TrimSpace(buf.Bytes())) && buf.Len() > 0 {
					t.Errorf("invalid JSON %s", buf.Bytes())
				}
			} else {
				err = r.printText(st, top)
			}
			if err != nil {
				t.Fatal(err)
			}
			r.out.Flush()
			testutil.Golden(t, filepath.Join("testdata", name+".golden"), buf.Bytes())
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		check   func(config) bool
	}{
		{[]string{"eth1"}, false, func(c config) bool {
			return c.iface == "eth1" && c.interval == 2*time.Second && c.top == 10 && c.maxEntries == 65536 && c.mode == "auto"
		}},
		{[]string{"-i", "0.5", "-n", "3", "--sort", "bytes", "--cumulative", "--mode", "generic", "--max-entries", "1024", "veth0"}, false, func(c config) bool {
			return c.interval == 500*time.Millisecond && c.top == 3 && c.byBytes && c.cumulative && c.mode == "generic" && c.maxEntries == 1024
		}},
		{nil, true, nil},
		{[]string{"a", "b"}, true, nil},
		{[]string{"--sort", "size", "eth1"}, true, nil},
		{[]string{"--mode", "offload", "eth1"}, true, nil},
		{[]string{"-n", "0", "eth1"}, true, nil},
		{[]string{"-i", "0", "eth1"}, true, nil},
		{[]string{"--max-entries", "0", "eth1"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, perr := testutil.Parse(t, (&Tool{}).Flags(), tt.args, parseConfig)
			if tt.wantErr != (perr != nil) || (perr != nil && !errors.Is(perr, tools.ErrUsage)) {
				t.Fatalf("err = %v, want error %v", perr, tt.wantErr)
			}
			if perr == nil && !tt.check(cfg) {
				t.Errorf("config = %+v", cfg)
			}
		})
	}
}
