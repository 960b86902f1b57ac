package metrics

import (
	"bytes"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebtools/ebtools/internal/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse parses an exposition as Prometheus does, failing t on an error.
func parse(t testing.TB, text []byte) map[string]*familyOf {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, text)
	}
	out := map[string]*familyOf{}
	for name, mf := range mfs {
		f := &familyOf{typ: mf.GetType().String(), help: mf.GetHelp()}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					f.buckets = append(f.buckets, b.GetCumulativeCount())
				}
				f.count = h.GetSampleCount()
			}
			f.samples = append(f.samples, sampleOf{l, v})
		}
		out[name] = f
	}
	return out
}

type familyOf struct {
	typ, help string
	samples   []sampleOf
	buckets   []uint64
	count     uint64
}

type sampleOf struct {
	labels map[string]string
	v      float64
}

// TestText: the exposition, byte for byte, for each kind of family.
func TestText(t *testing.T) {
	reg := NewRegistry()
	c := reg.NewCounterVec("x_things_total", "Things, by \"kind\" \\ color.\nSecond line.", "kind", "color")
	c.WithLabelValues("b", "red").Add(2)
	c.WithLabelValues("a", "blue").Add(1.5)
	c.WithLabelValues("a", "").Add(1e21)
	h := reg.NewHistogramVec("x_seconds", "Seconds.", []float64{0.5, 1, 10}, "op")
	for _, v := range []float64{0.5, 0.7, 3, 11} {
		h.WithLabelValues("get").Observe(v)
	}
	h.WithLabelValues("put")
	reg.NewRead("x_up", "Up.", false, func(emit func(float64, ...string)) {
		emit(1, "b")
		emit(math.Inf(1), "a\nq\"\\")
	}, "tool")
	reg.NewRead("x_plain", "No labels.", true, func(emit func(float64, ...string)) { emit(7) })
	want := `# HELP x_plain No labels.
# TYPE x_plain counter
x_plain 7
# HELP x_seconds Seconds.
# TYPE x_seconds histogram
x_seconds_bucket{op="get",le="0.5"} 1
x_seconds_bucket{op="get",le="1"} 2
x_seconds_bucket{op="get",le="10"} 3
x_seconds_bucket{op="get",le="+Inf"} 4
x_seconds_sum{op="get"} 15.2
x_seconds_count{op="get"} 4
x_seconds_bucket{op="put",le="0.5"} 0
x_seconds_bucket{op="put",le="1"} 0
x_seconds_bucket{op="put",le="10"} 0
x_seconds_bucket{op="put",le="+Inf"} 0
x_seconds_sum{op="put"} 0
x_seconds_count{op="put"} 0
# HELP x_things_total Things, by "kind" \\ color.\nSecond line.
# TYPE x_things_total counter
x_things_total{color="",kind="a"} 1e+21
x_things_total{color="blue",kind="a"} 1.5
x_things_total{color="red",kind="b"} 2
# HELP x_up Up.
# TYPE x_up gauge
x_up{tool="a\nq\"\\"} +Inf
x_up{tool="b"} 1
`
	got := text(t, reg, "x_")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	fams := parse(t, []byte(got))
	if f := fams["x_up"]; f.samples[0].labels["tool"] != "a\nq\"\\" {
		t.Errorf("escaped label value parsed as %q", f.samples[0].labels["tool"])
	}
	if f := fams["x_things_total"]; f.help != "Things, by \"kind\" \\ color.\nSecond line." {
		t.Errorf("help parsed as %q", f.help)
	}
}

// FuzzLabelValue: any label value, valid UTF-8 or not, makes an
// exposition Prometheus parses, with the value back (bad bytes as
// U+FFFD) and one series per value as written.
func FuzzLabelValue(f *testing.F) {
	for _, s := range []string{"", "ok", "a\"b", `back\slash`, "new\nline", "\xff\xfe", "\u2028", "}{=,", "# HELP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		reg := NewRegistry()
		c := reg.NewCounterVec("f_total", "F.", "v")
		c.WithLabelValues(v).Add(1)
		c.WithLabelValues(strings.ToValidUTF8(v, "\uFFFD")).Add(1)
		b, err := Text(reg, "")
		if err != nil {
			t.Fatal(err)
		}
		f := parse(t, b)["f_total"]
		if f == nil || len(f.samples) != 1 {
			t.Fatalf("want one series:\n%s", b)
		}
		if got, want := f.samples[0].labels["v"], strings.ToValidUTF8(v, "\uFFFD"); got != want || f.samples[0].v != 2 {
			t.Errorf("parsed %q = %v, want %q = 2", got, f.samples[0].v, want)
		}
	})
}

// TestDeletePartialMatch: the series matching every given label go, the
// others stay.
func TestDeletePartialMatch(t *testing.T) {
	reg := NewRegistry()
	c := reg.NewCounterVec("d_total", "D.", "unit", "result")
	for _, l := range [][2]string{{"a", "ok"}, {"a", "EPERM"}, {"b", "ok"}} {
		c.WithLabelValues(l[0], l[1]).Add(1)
	}
	if n := c.DeletePartialMatch(map[string]string{"unit": "a"}); n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	if n := c.DeletePartialMatch(map[string]string{"unit": "b", "result": "EPERM"}); n != 0 {
		t.Errorf("deleted %d, want 0", n)
	}
	want := "# HELP d_total D.\n# TYPE d_total counter\nd_total{result=\"ok\",unit=\"b\"} 1\n"
	checkText(t, reg, "d_", want)
	// A deleted series starts again from 0.
	c.WithLabelValues("a", "ok").Add(1)
	if got := c.WithLabelValues("a", "ok").Value(); got != 1 {
		t.Errorf("recreated series = %v, want 1", got)
	}
}

// TestRegisterPanics: invalid or repeated names are programming errors.
func TestRegisterPanics(t *testing.T) {
	for _, tt := range []struct {
		name string
		reg  func(r *Registry)
	}{
		{"twice", func(r *Registry) { r.NewCounterVec("a_total", "A."); r.NewCounterVec("a_total", "A.") }},
		{"bad name", func(r *Registry) { r.NewCounterVec("a-b", "A.") }},
		{"digit first", func(r *Registry) { r.NewCounterVec("1a", "A.") }},
		{"bad label", func(r *Registry) { r.NewCounterVec("a_total", "A.", "a b") }},
		{"reserved label", func(r *Registry) { r.NewCounterVec("a_total", "A.", "__name") }},
		{"le", func(r *Registry) { r.NewHistogramVec("a", "A.", []float64{1}, "le") }},
		{"unsorted buckets", func(r *Registry) { r.NewHistogramVec("a", "A.", []float64{2, 1}) }},
		{"repeated bucket", func(r *Registry) { r.NewHistogramVec("a", "A.", []float64{1, 1}) }},
		{"+Inf bucket", func(r *Registry) { r.NewHistogramVec("a", "A.", []float64{1, math.Inf(1)}) }},
		{"no buckets", func(r *Registry) { r.NewHistogramVec("a", "A.", nil) }},
		{"label twice", func(r *Registry) { r.NewCounterVec("a_total", "A.", "unit", "unit") }},
		{"negative add", func(r *Registry) { r.NewCounterVec("a_total", "A.").WithLabelValues().Add(-1) }},
		{"label count", func(r *Registry) { r.NewCounterVec("a_total", "A.", "x").WithLabelValues() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.reg(NewRegistry())
		})
	}
}

// TestConcurrentScrape: scrapes while series are counted, made and
// deleted (go test -race) see consistent histograms.
func TestConcurrentScrape(t *testing.T) {
	reg := NewRegistry()
	c := reg.NewCounterVec("c_total", "C.", "k")
	h := reg.NewHistogramVec("h_seconds", "H.", []float64{1, 2}, "k")
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			k := string(rune('a' + i%5))
			c.WithLabelValues(k).Add(1)
			h.WithLabelValues(k).Observe(float64(i % 3))
			if i%100 == 0 {
				c.DeletePartialMatch(map[string]string{"k": k})
			}
		}
	}()
	for i := 0; i < 200; i++ {
		b, err := Text(reg, "")
		if err != nil {
			t.Fatal(err)
		}
		if f := parse(t, b)["h_seconds"]; f != nil && len(f.buckets) > 0 && f.buckets[len(f.buckets)-1] != f.count {
			// Single series at most 5; the last bucket of the last one.
			t.Fatalf("+Inf bucket %d != count %d", f.buckets[len(f.buckets)-1], f.count)
		}
	}
	close(done)
	wg.Wait()
}

// serve starts a Server on loopback and returns its /metrics URL.
func serve(t *testing.T) (*Server, string) {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", "v1.2.3", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, "http://" + srv.Addr() + "/metrics"
}

// TestServe: a scrape (Go's HTTP client here, Prometheus in
// cmd/ebtools) gets the exposition with its content type; HEAD the
// headers alone; other methods 405.
func TestServe(t *testing.T) {
	_, url := serve(t)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType {
		t.Fatalf("GET: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	fams := parse(t, body)
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
		"process_start_time_seconds", "process_open_fds", "process_max_fds", "go_goroutines", "go_threads", "go_info",
		"go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes", "go_memstats_alloc_bytes_total", "go_gc_cycles_total"} {
		f := fams[name]
		if f == nil || len(f.samples) != 1 {
			t.Errorf("%s: want one sample", name)
			continue
		}
		if v := f.samples[0].v; v <= 0 && name != "process_cpu_seconds_total" && name != "go_gc_cycles_total" {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if f := fams["ebtools_build_info"]; f == nil || f.samples[0].labels["version"] != "v1.2.3" {
		t.Errorf("ebtools_build_info: %+v", f)
	}
	if rss := fams["process_resident_memory_bytes"].samples[0].v; rss < 1<<20 || rss > 1<<30 {
		t.Errorf("process_resident_memory_bytes = %v", rss)
	}

	req, _ := http.NewRequest(http.MethodHead, url, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType {
		t.Errorf("HEAD: %s, %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Post(url, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s, want 405", resp.Status)
	}
}

// TestProcStat: the fields are read after the command name, whatever it
// holds.
func TestProcStat(t *testing.T) {
	st, err := readProcStat()
	if err != nil {
		t.Fatal(err)
	}
	if st.vsize == 0 || st.rss == 0 || st.starttime == 0 {
		t.Errorf("%+v", st)
	}
}

// TestServeRequests: what the endpoint answers to each kind of request
// head, written raw.
func TestServeRequests(t *testing.T) {
	srv, _ := serve(t)
	for _, tt := range []struct {
		name, req string
		status    string
		body      bool // the exposition follows
	}{
		{"get", "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", "200 OK", true},
		{"http/1.0, bare LF", "GET /metrics HTTP/1.0\n\n", "200 OK", true},
		{"query", "GET /metrics?name[]=up HTTP/1.1\r\n\r\n", "200 OK", true},
		{"absolute form", "GET http://127.0.0.1:9435/metrics HTTP/1.1\r\n\r\n", "200 OK", true},
		{"head", "HEAD /metrics HTTP/1.1\r\n\r\n", "200 OK", false},
		{"other path", "GET / HTTP/1.1\r\n\r\n", "404 Not Found", false},
		{"prefix of the path", "GET /metricsx HTTP/1.1\r\n\r\n", "404 Not Found", false},
		{"post", "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "405 Method Not Allowed", false},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505 HTTP Version Not Supported", false},
		{"no version", "GET /metrics\r\n\r\n", "400 Bad Request", false},
		{"bad header", "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", "400 Bad Request", false},
		{"space before colon", "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", "400 Bad Request", false},
		{"line too long", "GET /metrics HTTP/1.1\r\nX: " + strings.Repeat("x", maxLine) + "\r\n\r\n", "431 Request Header Fields Too Large", false},
		{"head too large", "GET /metrics HTTP/1.1\r\n" + strings.Repeat("X: "+strings.Repeat("x", 1000)+"\r\n", maxHead/1000+1) + "\r\n", "431 Request Header Fields Too Large", false},
		{"head just fits", "GET /metrics HTTP/1.1\r\n" + strings.Repeat("X: "+strings.Repeat("x", 1000)+"\r\n", maxHead/1000-1) + "\r\n", "200 OK", true},
		{"closed mid-head", "GET /metrics HTTP/1.1\r\nHost: x\r\n", "400 Bad Request", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go func() {
				c.Write([]byte(tt.req))
				c.(*net.TCPConn).CloseWrite()
			}()
			b, err := io.ReadAll(c)
			if err != nil && len(b) == 0 {
				t.Fatal(err)
			}
			resp := string(b)
			if !strings.HasPrefix(resp, "HTTP/1.1 "+tt.status+"\r\n") || !strings.Contains(resp, "\r\nConnection: close\r\n") {
				t.Fatalf("response:\n%.300s", resp)
			}
			_, body, _ := strings.Cut(resp, "\r\n\r\n")
			if has := strings.Contains(body, "# TYPE ebtools_build_info gauge"); has != tt.body {
				t.Errorf("exposition in body: %v, want %v:\n%.300s", has, tt.body, resp)
			}
		})
	}
}

// TestServeSlowClients: clients that connect and send nothing, as many
// as the server serves at once, hold a scrape up for headTimeout at most
// (a scrape's own timeout is 10 s by default), and are answered 408.
func TestServeSlowClients(t *testing.T) {
	srv, url := serve(t)
	var idle []net.Conn
	for i := 0; i < maxConns+2; i++ {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	began := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(began); resp.StatusCode != 200 || took > headTimeout+testutil.Scaled(time.Second) {
		t.Errorf("scrape next to %d idle clients: %s after %v", len(idle), resp.Status, took)
	}
	b, _ := io.ReadAll(idle[0])
	if !strings.HasPrefix(string(b), "HTTP/1.1 408 ") {
		t.Errorf("an idle client got %q, want 408", b)
	}
}

// TestLabelKeys: label values that join to the same bytes stay apart,
// and two spellings of one exported value share a series.
func TestLabelKeys(t *testing.T) {
	reg := NewRegistry()
	c := reg.NewCounterVec("k_total", "K.", "a", "b")
	c.WithLabelValues("x\xffy", "z").Add(1)
	c.WithLabelValues("x", "y\xffz").Add(2)
	c.WithLabelValues("x\xfey", "z").Add(4) // exported as x\uFFFDy too
	want := "# HELP k_total K.\n# TYPE k_total counter\n" +
		"k_total{a=\"x\",b=\"y\uFFFDz\"} 2\n" +
		"k_total{a=\"x\uFFFDy\",b=\"z\"} 5\n"
	checkText(t, reg, "k_", want)
	// Deleting by a value with bad bytes finds its series; a label the
	// family lacks matches nothing.
	if n := c.DeletePartialMatch(map[string]string{"nosuch": "x"}); n != 0 {
		t.Errorf("unknown label deleted %d series", n)
	}
	if n := c.DeletePartialMatch(map[string]string{"b": "y\xffz"}); n != 1 {
		t.Errorf("deleted %d, want 1", n)
	}
}
