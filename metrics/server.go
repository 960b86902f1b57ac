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
	"fmt"
	"net"
	goruntime "runtime"
	"time"
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

// Server serves one registry at /metrics (http.go).
type Server struct {
	reg    *Registry
	ln     net.Listener
	limits Limits
	conns  connSet
}

// Listen binds addr (host:port; port 0 picks one) and registers the build
// information and the Go runtime's and process's metrics. Serve serves it.
func Listen(addr, version string, limits Limits) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics: %w", err)
	}
	reg := NewRegistry()
	registerProcess(reg)
	RegisterBuildInfo(reg, version)
	return &Server{reg: reg, ln: ln, limits: limits}, nil
}

// RegisterBuildInfo registers ebtools_build_info{version, goversion,
// goarch}, always 1.
func RegisterBuildInfo(reg *Registry, version string) {
	reg.NewRead("ebtools_build_info", "The ebtools build that runs: always 1, its version and Go's in labels.", false,
		func(emit func(float64, ...string)) { emit(1, version, goruntime.Version(), goruntime.GOARCH) },
		"version", "goversion", "goarch")
}

// Tool registers the metrics every tool has, labeled tool=name, and
// returns the handle through which the tool adds its own.
func (s *Server) Tool(name string) *Tool { return NewTool(s.reg, name, s.limits) }
