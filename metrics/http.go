package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The endpoint speaks just enough HTTP/1.x for a scrape: a request head
// in, one response out, its end the connection's close. ebtools does not
// link net/http, whose client, TLS and HTTP/2 code cost every tool
// resident memory (1.4 MB in a program linking only it) for a feature
// most runs leave off.

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

const (
	// maxHead bounds a request's line and headers together; maxLine each
	// line.
	maxHead = 16 << 10
	maxLine = 4 << 10
	// headTimeout bounds the wait for a request's head, from accept:
	// clients that connect and send nothing give up their place soon.
	headTimeout = 2 * time.Second
	// writeTimeout bounds writing the response.
	writeTimeout = 10 * time.Second
	// maxConns bounds the connections open at once; more wait in the
	// kernel's accept queue, for at most headTimeout each.
	maxConns = 64
)

// connSet is the connections being served, for Close.
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (cs *connSet) add(c net.Conn) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return false
	}
	if cs.m == nil {
		cs.m = map[net.Conn]struct{}{}
	}
	cs.m[c] = struct{}{}
	cs.wg.Add(1)
	return true
}

func (cs *connSet) done(c net.Conn) {
	cs.mu.Lock()
	delete(cs.m, c)
	cs.mu.Unlock()
	cs.wg.Done()
}

// Addr returns the address the server listens on, as "127.0.0.1:9435".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves /metrics until Close.
func (s *Server) Serve() error {
	slots := make(chan struct{}, maxConns)
	var backoff time.Duration
	for {
		slots <- struct{}{}
		c, err := s.ln.Accept()
		if err != nil {
			<-slots
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors, say: try again, as net/http does.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept metrics connection: %w", err)
		}
		backoff = 0
		if !s.conns.add(c) {
			c.Close()
			<-slots
			return nil
		}
		go func() {
			defer func() { <-slots }()
			defer s.conns.done(c)
			s.reg.serveConn(c)
		}()
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Close stops serving, after the scrapes in progress (at most a second).
func (s *Server) Close() error {
	err := s.ln.Close()
	s.conns.mu.Lock()
	s.conns.closed = true
	s.conns.mu.Unlock()
	finished := make(chan struct{})
	go func() { s.conns.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Second):
		s.conns.mu.Lock()
		for c := range s.conns.m {
			c.Close()
		}
		s.conns.mu.Unlock()
		<-finished
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// serveConn reads one request from c, answers it and closes c: GET or
// HEAD of /metrics gets the exposition; anything else an error status.
func (r *Registry) serveConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(headTimeout))
	status, method := r.readRequest(bufio.NewReaderSize(&headReader{r: c, left: maxHead}, maxLine))
	_ = c.SetDeadline(time.Now().Add(writeTimeout))
	w := bufio.NewWriter(c)
	ctype := ContentType
	if status != 200 {
		ctype = "text/plain; charset=utf-8"
	}
	// The body streams, its end the connection's close: no copy of it is
	// held to count its length.
	w.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + statusText[status] + "\r\n")
	w.WriteString("Content-Type: " + ctype + "\r\n")
	if status == 405 {
		w.WriteString("Allow: GET, HEAD\r\n")
	}
	w.WriteString("Connection: close\r\n\r\n")
	switch {
	case method == "HEAD":
	case status == 200:
		_ = r.WriteText(w, "")
	default:
		w.WriteString(statusText[status] + "\n")
	}
	if w.Flush() != nil {
		return
	}
	// Closing with unread input would reset the connection and could cut
	// off the response's tail: end the output, then read what the client
	// still sends, briefly, as net/http does.
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.CopyN(io.Discard, c, 64<<10)
	}
}

var statusText = map[int]string{
	200: "OK",
	400: "Bad Request",
	404: "Not Found",
	405: "Method Not Allowed",
	408: "Request Timeout",
	431: "Request Header Fields Too Large",
	505: "HTTP Version Not Supported",
}

// readRequest reads a request's line and headers and returns the status
// to answer with and the method.
func (r *Registry) readRequest(br *bufio.Reader) (int, string) {
	line, err := readLine(br)
	if err != nil {
		return headError(err), ""
	}
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || target == "" {
		return 400, ""
	}
	if !strings.HasPrefix(proto, "HTTP/1.") || len(proto) != len("HTTP/1.1") {
		return 505, method
	}
	for {
		h, err := readLine(br)
		if err != nil {
			return headError(err), method
		}
		if h == "" {
			break
		}
		if name, _, ok := strings.Cut(h, ":"); !ok || name == "" || strings.ContainsAny(name, " \t") {
			return 400, method
		}
	}
	// origin-form ("/metrics?x=y") or absolute-form ("http://host/metrics").
	if i := strings.Index(target, "://"); i >= 0 {
		target = target[i+3:]
		if j := strings.IndexByte(target, '/'); j >= 0 {
			target = target[j:]
		} else {
			target = "/"
		}
	}
	target, _, _ = strings.Cut(target, "?")
	if target != "/metrics" {
		return 404, method
	}
	if method != "GET" && method != "HEAD" {
		return 405, method
	}
	return 200, method
}

var errTooLong = errors.New("request head too large")

// headReader reads at most left bytes from r, then fails with errTooLong.
type headReader struct {
	r    io.Reader
	left int
}

func (h *headReader) Read(p []byte) (int, error) {
	if h.left <= 0 {
		return 0, errTooLong
	}
	if len(p) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	h.left -= n
	return n, err
}

// readLine reads a line ending in CRLF or LF, without it.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errTooLong
	}
	if err != nil {
		return "", err
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	return string(line), nil
}

func headError(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, errTooLong):
		return 431
	case errors.As(err, &ne) && ne.Timeout():
		return 408
	}
	return 400
}
