package metrics

import (
	"strings"
	"testing"
)

var (
	testCounter   = &Metric{Name: "things_total", Help: "Things.", Labels: []string{"result"}}
	testHistogram = &Metric{Name: "seconds", Help: "Seconds.", Buckets: []float64{1, 10}}
)

func newMeter(t *testing.T, limits Limits) (*Registry, *Meter) {
	t.Helper()
	reg := NewRegistry()
	return reg, NewTool(reg, "test", limits).Meter([]*Metric{testCounter, testHistogram})
}

// TestMeterBounds: past Groups pairs and Values label combinations, events
// count as "other"; an idle pair makes room, its series gone.
func TestMeterBounds(t *testing.T) {
	reg, m := newMeter(t, Limits{Groups: 2, Values: 2})
	const s = uint64(1e9)
	for _, ev := range []struct {
		unit, container, result string
		ktime                   uint64
	}{
		{"a.service", "", "ok", s},
		{"a.service", "", "ENOENT", s},
		{"a.service", "", "EACCES", s}, // a third result: other
		{"b.service", "", "ok", s},
		{"", "c0ffee", "ok", s}, // a third pair: other
		{"", "c0ffee", "EPERM", s},
		{"a.service", "", "ok", 2 * s},
		// b.service idle for IdleGroup: d.service takes its place.
		{"d.service", "", "ok", s + uint64(IdleGroup)},
	} {
		m.SetGroup(ev.unit, ev.container, ev.ktime)
		m.Add(testCounter, 1, ev.result)
		m.Observe(testHistogram, 5)
	}
	want := `# HELP ebtools_test_things_total Things.
# TYPE ebtools_test_things_total counter
ebtools_test_things_total{container_id="",result="ENOENT",unit="a.service"} 1
ebtools_test_things_total{container_id="",result="ok",unit="a.service"} 2
ebtools_test_things_total{container_id="",result="ok",unit="d.service"} 1
ebtools_test_things_total{container_id="",result="other",unit="a.service"} 1
ebtools_test_things_total{container_id="other",result="ok",unit="other"} 1
ebtools_test_things_total{container_id="other",result="other",unit="other"} 1
`
	checkText(t, reg, "ebtools_test_things_total", want)
	if n := strings.Count(text(t, reg, "ebtools_test_seconds"), "ebtools_test_seconds_count{"); n != 3 {
		t.Errorf("%d histogram series, want 3 (a.service, d.service, other)", n)
	}
}

// TestMeterDoesNotAllocate: once an event's series exist, counting it
// allocates nothing.
func TestMeterDoesNotAllocate(t *testing.T) {
	_, m := newMeter(t, Limits{})
	units := []string{"a.service", "b.service"}
	step := func() {
		for _, u := range units {
			m.SetGroup(u, "", 1)
			m.Add(testCounter, 1, "ok")
			m.Observe(testHistogram, 0.5)
		}
	}
	step()
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per step", n)
	}
}

// TestCounts: the metrics every tool has read the runtime's counts.
func TestCounts(t *testing.T) {
	reg := NewRegistry()
	tm := NewTool(reg, "test", Limits{})
	c := tm.Counts()
	c.Events.Add(10)
	c.RingFull.Add(2)
	c.Malformed.Add(1)
	c.Attached.Store(true)
	want := `# HELP ebtools_events_lost_total ` + helpLost + `
# TYPE ebtools_events_lost_total counter
ebtools_events_lost_total{reason="malformed",tool="test"} 1
ebtools_events_lost_total{reason="ring_full",tool="test"} 2
ebtools_events_lost_total{reason="skipped",tool="test"} 0
ebtools_events_lost_total{reason="untracked",tool="test"} 0
ebtools_events_lost_total{reason="unwritten",tool="test"} 0
# HELP ebtools_events_total Events read from the kernel side.
# TYPE ebtools_events_total counter
ebtools_events_total{tool="test"} 10
# HELP ebtools_up 1 while the tool's programs are attached, else 0.
# TYPE ebtools_up gauge
ebtools_up{tool="test"} 1
`
	checkText(t, reg, "ebtools_", want)
	if NewTool(NewRegistry(), "x", Limits{}).Counts() == nil || (*Tool)(nil).Counts() != nil {
		t.Error("Counts: want a pointer for a Tool, nil for no Tool")
	}
}

func text(t *testing.T, reg *Registry, prefix string) string {
	t.Helper()
	b, err := Text(reg, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkText(t *testing.T, reg *Registry, prefix, want string) {
	t.Helper()
	if got := text(t, reg, prefix); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
