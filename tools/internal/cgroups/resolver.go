package cgroups

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Mountpoint returns where cgroup v2 is mounted ("/sys/fs/cgroup", or
// "/sys/fs/cgroup/unified" on hybrid systems), "" if it is not.
func Mountpoint() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if fields := strings.Fields(pre); len(fields) >= 5 {
			return unescapeMount(fields[4])
		}
	}
	return ""
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			n := 0
			for _, c := range s[i+1 : i+4] {
				n = n*8 + int(c-'0')
			}
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Bounds of the resolver's memory.
const (
	// maxKnown is the most cgroups remembered: far more than a box runs.
	maxKnown = 65536
	// maxGone is the most ids remembered as gone before the event was read.
	maxGone = 16384
	// rescanGap is the least time between two walks of the hierarchy, so a
	// burst of events from vanished cgroups costs one walk, not one each.
	rescanGap = 50 * time.Millisecond
)

// Resolver maps cgroup ids to Info. It walks the cgroup v2 hierarchy when
// it meets an id it does not know (a cgroup created since), and remembers
// what it found. Not safe for concurrent use.
type Resolver struct {
	root     string
	known    map[uint64]*Info
	gone     map[uint64]bool
	lastScan time.Time
	now      func() time.Time
}

// NewResolver returns a Resolver of the hierarchy mounted at root ("" when
// there is none: every lookup then fails).
func NewResolver(root string) *Resolver {
	return &Resolver{root: root, known: map[uint64]*Info{}, gone: map[uint64]bool{}, now: time.Now}
}

// Lookup returns the Info of cgroup id, nil if the cgroup is unknown
// (removed before it could be looked up, or in no hierarchy this process
// sees).
func (r *Resolver) Lookup(id uint64) *Info {
	if info, ok := r.known[id]; ok {
		return info
	}
	if r.root == "" || id == 0 || r.gone[id] {
		return nil
	}
	if now := r.now(); now.Sub(r.lastScan) >= rescanGap {
		r.lastScan = now
		r.scan()
		if info, ok := r.known[id]; ok {
			return info
		}
		// The cgroup existed when the event happened, and ids are never
		// reused: it is gone for good.
		if len(r.gone) >= maxGone {
			clear(r.gone)
		}
		r.gone[id] = true
	}
	return nil
}

// scan walks the hierarchy and indexes every cgroup by id (its directory's
// inode number). Cgroups that are gone are dropped.
func (r *Resolver) scan() {
	seen := make(map[uint64]*Info, len(r.known))
	filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if len(seen) >= maxKnown {
			return filepath.SkipAll
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if info, ok := r.known[st.Ino]; ok {
			seen[st.Ino] = info
			return nil
		}
		rel := strings.TrimPrefix(p, r.root)
		if rel == "" {
			rel = "/"
		}
		info := Parse(rel)
		seen[st.Ino] = &info
		return nil
	})
	r.known = seen
}
