// Package metrics exports what a running tool counts to Prometheus, at
// /metrics on the address of --metrics: the counts every tool has (events,
// lost events by reason, whether it is attached, the build) and each
// tool's own, with label cardinality bounded everywhere.
//
//	srv, err := metrics.Listen("127.0.0.1:9435", version, metrics.Limits{Groups: 100, Values: 64})
//	go srv.Serve()
//	defer srv.Close()
//	tm := srv.Tool("opensnoop")   // ebtools_events_total{tool="opensnoop"}, ...
//	opts.Counts = tm.Counts()     // the runtime session keeps them
//	m := tm.Meter(own)            // the tool's own metrics, fed per event
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	goruntime "runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Limits bound the series a tool exports.
type Limits struct {
	// Groups is how many (unit, container_id) pairs a tool's own metrics
	// keep series for; events of more count under unit="other",
	// container_id="other" (a pair idle for IdleGroup makes room).
	Groups int
	// Values is how many combinations of a metric's own label values
	// (result, op, signal, ...) get series; more count as "other".
	Values int
}

// Defaults of Limits, as the flags' defaults.
const (
	DefaultGroups = 100
	DefaultValues = 64
)

// Other is the label value that stands for everything beyond a cap.
const Other = "other"

// IdleGroup is how long a (unit, container_id) pair must have had no event
// before its series are dropped to make room for a new pair: a container
// that is gone stops holding a place.
const IdleGroup = 10 * time.Minute

// Server serves one registry at /metrics.
type Server struct {
	reg    *prometheus.Registry
	ln     net.Listener
	srv    *http.Server
	limits Limits
}

// Listen binds addr (host:port; port 0 picks one) and registers the build
// information and the Go runtime's and process's metrics. Serve serves it.
func Listen(addr, version string, limits Limits) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	RegisterBuildInfo(reg, version)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &Server{
		reg: reg, ln: ln, limits: limits,
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// RegisterBuildInfo registers ebtools_build_info{version, goversion,
// goarch}, always 1.
func RegisterBuildInfo(reg prometheus.Registerer, version string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "ebtools_build_info",
		Help:        "The ebtools build that runs: always 1, its version and Go's in labels.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": goruntime.Version(), "goarch": goruntime.GOARCH},
	})
	g.Set(1)
	reg.MustRegister(g)
}

// Addr returns the address the server listens on, as "127.0.0.1:9435".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves /metrics until Close.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics: %w", err)
	}
	return nil
}

// Close stops serving, after the scrapes in progress (at most a second).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

// Tool registers the metrics every tool has, labeled tool=name, and
// returns the handle through which the tool adds its own.
func (s *Server) Tool(name string) *Tool { return NewTool(s.reg, name, s.limits) }
