package tools

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/ebtools/ebtools/metrics"
	"github.com/ebtools/ebtools/output"
	"github.com/ebtools/ebtools/tools/internal/cgroups"
)

// TestEventMetrics: a tool's own metric, declared in Events, counts the
// printed events with the unit and container_id the spine resolves from
// each event's cgroup; filtered events are not counted; past
// --metrics-max-groups pairs, events count under "other".
func TestEventMetrics(t *testing.T) {
	dir := t.TempDir()
	const docker = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	paths := []string{
		"system.slice/backup.service",
		"system.slice/docker-" + docker + ".scope",
		"system.slice/cron.service",
	}
	var ids []uint64
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, testutil.Inode(t, filepath.Join(dir, p)))
	}
	seen := &metrics.Metric{Name: "seen_total", Help: "Events seen, by comm.", Labels: []string{"comm"}}
	cfg := TaskConfig{Name: "r"} // rm and tar, not ls
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	ev := Events{Task: &cfg, Columns: Columns(), Layout: []int{ColPID},
		Fill:    func(*output.Row, []byte) (bool, error) { return true, nil },
		Metrics: []*metrics.Metric{seen},
		Measure: func(m *metrics.Meter, raw []byte) {
			t, _, _ := DecodeTask(raw)
			m.Add(seen, 1, string(Comm(&t.Comm)))
		},
	}
	h := NewEventHandler(output.NewWriter(io.Discard), output.None, output.NewClockAt(boot, start), ev)
	h.SetCgroups(cgroups.NewResolver(dir))
	reg := metrics.NewRegistry()
	h.SetMetrics(metrics.NewTool(reg, "test", metrics.Limits{Groups: 2}))
	for _, e := range []struct {
		cg   int
		comm string
	}{{0, "rm"}, {0, "rm"}, {0, "ls"}, {1, "tar"}, {2, "rm"}, {0, "tar"}} {
		task := Task{KtimeNs: start, CgroupId: ids[e.cg], Pid: 42, Comm: testutil.Comm(e.comm)}
		if err := h.Event(taskRecord(task, 0)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := metrics.Text(reg, "ebtools_test_")
	if err != nil {
		t.Fatal(err)
	}
	want := `# HELP ebtools_test_seen_total Events seen, by comm.
# TYPE ebtools_test_seen_total counter
ebtools_test_seen_total{comm="rm",container_id="",unit="backup.service"} 2
ebtools_test_seen_total{comm="rm",container_id="other",unit="other"} 1
ebtools_test_seen_total{comm="tar",container_id="",unit="backup.service"} 1
ebtools_test_seen_total{comm="tar",container_id="` + docker + `",unit="docker-` + docker + `.scope"} 1
`
	if strings.TrimSpace(string(got)) != strings.TrimSpace(want) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
