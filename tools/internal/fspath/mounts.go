package fspath

import (
	"bufio"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// mount is where one filesystem (or part of it) is mounted: root is the
// path inside the filesystem that appears at point.
type mount struct {
	root, point string
}

// Mounts says where filesystems are mounted on the host, from
// /proc/1/mountinfo (init's mount namespace: the host's, also for an
// ebtools running in a container with the host's PID namespace). Not safe
// for concurrent use.
type Mounts struct {
	file   string
	byDev  map[uint32][]mount // sorted: the best mount of a path first
	loaded time.Time
	now    func() time.Time
}

// reloadGap is the least time between two reads of mountinfo when a
// device is not found (a filesystem mounted since), so a stream of events
// from an unmounted filesystem costs one read, not one each.
const reloadGap = 100 * time.Millisecond

// NewMounts reads the host's mount table; file is "" for /proc/1/mountinfo
// (falling back to this process's own).
func NewMounts(file string) *Mounts {
	m := &Mounts{file: file, now: time.Now}
	if m.file == "" {
		m.file = "/proc/1/mountinfo"
		if _, err := os.Stat(m.file); err != nil {
			m.file = "/proc/self/mountinfo"
		}
	}
	m.load()
	return m
}

// load rereads the mount table. A failed read keeps the table it has: a
// file that cannot be opened for a moment must not make every path look
// unmounted.
func (m *Mounts) load() {
	m.loaded = m.now()
	f, err := os.Open(m.file)
	if err != nil {
		if m.byDev == nil {
			m.byDev = map[uint32][]mount{}
		}
		return
	}
	defer f.Close()
	m.byDev = parseMountinfo(f)
}

// parseMountinfo reads mountinfo lines:
// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPER.
func parseMountinfo(r io.Reader) map[uint32][]mount {
	byDev := map[uint32][]mount{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		maj, min, ok := strings.Cut(f[2], ":")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(maj, 10, 12)
		b, err2 := strconv.ParseUint(min, 10, 20)
		if err1 != nil || err2 != nil {
			continue
		}
		dev := uint32(a<<20 | b) // the kernel's dev_t: MINORBITS is 20
		byDev[dev] = append(byDev[dev], mount{root: unescape(f[3]), point: unescape(f[4])})
	}
	for _, ms := range byDev {
		// The whole filesystem before a part of it (a bind mount), then
		// the shortest mount point; later mounts over earlier ones are
		// found by shorter roots first.
		sort.SliceStable(ms, func(i, j int) bool {
			if len(ms[i].root) != len(ms[j].root) {
				return len(ms[i].root) < len(ms[j].root)
			}
			return len(ms[i].point) < len(ms[j].point)
		})
	}
	return byDev
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Host appends to dst the host path of the file at fsPath inside the
// filesystem dev, and reports whether the filesystem is mounted on the
// host where fsPath can be reached.
func (m *Mounts) Host(dst []byte, dev uint32, fsPath []byte) ([]byte, bool) {
	if b, ok := m.host(dst, dev, fsPath); ok {
		return b, true
	}
	if now := m.now(); now.Sub(m.loaded) >= reloadGap {
		m.load()
		return m.host(dst, dev, fsPath)
	}
	return dst, false
}

func (m *Mounts) host(dst []byte, dev uint32, fsPath []byte) ([]byte, bool) {
	for _, mt := range m.byDev[dev] {
		rest, ok := under(fsPath, mt.root)
		if !ok {
			continue
		}
		if mt.point == "/" && len(rest) > 0 {
			return append(dst, rest...), true
		}
		dst = append(dst, mt.point...)
		return append(dst, rest...), true
	}
	return dst, false
}

// under returns what follows root in p ("" or "/..."), if p is root or
// below it.
func under(p []byte, root string) ([]byte, bool) {
	if root == "/" {
		if len(p) == 1 && p[0] == '/' {
			return nil, true
		}
		return p, len(p) > 0 && p[0] == '/'
	}
	if len(p) < len(root) || string(p[:len(root)]) != root {
		return nil, false
	}
	rest := p[len(root):]
	return rest, len(rest) == 0 || rest[0] == '/'
}
