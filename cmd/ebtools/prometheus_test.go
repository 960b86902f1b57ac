package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ebtools/ebtools/internal/testutil"
)

// querier answers the sum of the series of a metric whose labels match,
// over every ebtools endpoint of a test, from where it can: a real
// Prometheus server that scrapes them, or, in a test-kernels guest (which
// has no prometheus binary), the endpoints scraped and parsed with
// client_golang's text parser, as Prometheus parses them.
type querier interface {
	// sum returns the sum and whether any series matched.
	sum(t *testing.T, metric string, labels map[string]string) (float64, bool)
	String() string
}

// newQuerier returns a Prometheus server scraping targets (host:port)
// every 100 ms where the prometheus binary is installed, and a direct
// scrape in a test-kernels guest. Outside a guest, prometheus must be
// there (.ci/run installs Debian's package).
func newQuerier(t *testing.T, targets []string) querier {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("EBTOOLS_BINARY") == "" {
			t.Fatal("no prometheus binary: apt-get install prometheus (.ci/run does)")
		}
		t.Log("test-kernels guest without prometheus: checking the endpoints as Prometheus would, scraped and parsed by client_golang's text parser")
		return directScrape(targets)
	}
	return startPrometheus(t, bin, targets)
}

// promServer is a Prometheus server the test started, on loopback.
type promServer struct{ base string }

func (p *promServer) String() string { return "Prometheus at " + p.base }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs Prometheus with a configuration of its own that
// scrapes targets every 100 ms, and waits until it is ready.
func startPrometheus(t *testing.T, bin string, targets []string) *promServer {
	t.Helper()
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: 100ms
  scrape_timeout: 100ms
scrape_configs:
  - job_name: ebtools
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", "))
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logFile.Close()
	})
	p := &promServer{base: "http://" + addr}
	deadline := time.Now().Add(testutil.Timeout)
	for {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("prometheus not ready within %v: %v\n%s", testutil.Timeout, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("prometheus on %s scraping %s every 100 ms", addr, strings.Join(targets, ", "))
	return p
}

// promQL returns sum(metric{labels}).
func promQL(metric string, labels map[string]string) string {
	var sel []string
	for k, v := range labels {
		sel = append(sel, k+"="+strconv.Quote(v))
	}
	sort.Strings(sel)
	return "sum(" + metric + "{" + strings.Join(sel, ",") + "})"
}

func (p *promServer) sum(t *testing.T, metric string, labels map[string]string) (float64, bool) {
	t.Helper()
	q := promQL(metric, labels)
	resp, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s %s", q, err, r.Status, r.Error)
	}
	if len(r.Data.Result) == 0 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %v", q, r.Data.Result[0].Value)
	}
	return v, true
}

// directScrape scrapes each target itself.
type directScrape []string

func (d directScrape) String() string { return "direct scrapes of " + strings.Join(d, ", ") }

func (d directScrape) sum(t *testing.T, metric string, labels map[string]string) (float64, bool) {
	t.Helper()
	var total float64
	found := false
	for _, target := range d {
		mfs := parseExposition(t, scrape(t, "http://"+target+"/metrics"))
		fam := mfs[metric]
		if fam == nil && strings.HasSuffix(metric, "_count") { // a histogram's count
			fam = mfs[strings.TrimSuffix(metric, "_count")]
		}
		for _, m := range fam.GetMetric() {
			if matches(m, labels) {
				total += value(m)
				found = true
			}
		}
	}
	return total, found
}

// parseExposition parses the text exposition format as Prometheus does.
func parseExposition(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse the exposition: %v\n%s", err, text)
	}
	return mfs
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// sumChecks waits for sums of metrics to reach their values through q, and
// checks at the end that they stayed there.
type sumChecks struct {
	q      querier
	waited []expectedSum
}

type expectedSum struct {
	metric string
	labels map[string]string
	sum    float64
}

// waitFor waits until q says the sum of metric over the series matching
// labels is sum, fails t if it is not within testutil.Timeout or goes past
// it, and keeps it for settled.
func (s *sumChecks) waitFor(t *testing.T, metric string, labels map[string]string, sum float64) {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for {
		got, ok := s.q.sum(t, metric, labels)
		if ok && got == sum {
			break
		}
		if (ok && got > sum) || time.Now().After(deadline) {
			t.Fatalf("%s: %s = %v (found %v), want %v", s.q, promQL(metric, labels), got, ok, sum)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s: %s = %v", s.q, promQL(metric, labels), sum)
	s.waited = append(s.waited, expectedSum{metric, labels, sum})
}

// settled waits for more scrapes and checks that every sum waited for
// stayed: exactly its value, not more. One wait for all of them: at 500 ms
// each, stretched 20 times, the waits took 180 s of the arm64 guest's run.
func (s *sumChecks) settled(t *testing.T) {
	t.Helper()
	time.Sleep(testutil.Scaled(500 * time.Millisecond))
	for _, w := range s.waited {
		if got, _ := s.q.sum(t, w.metric, w.labels); got != w.sum {
			t.Errorf("%s: %s = %v after a while, want %v", s.q, promQL(w.metric, w.labels), got, w.sum)
		}
	}
}
