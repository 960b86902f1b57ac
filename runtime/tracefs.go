package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

const tracefsMountPoint = "/sys/kernel/tracing"

// tracefsState is resolved once per process: cilium/ebpf also caches the
// tracefs location on first use, so it must be mounted before any attach.
var tracefsState struct {
	once    sync.Once
	path    string
	mounted bool
	err     error
}

// Tracefs returns where tracefs is mounted, mounting it at
// /sys/kernel/tracing first if it is not (some machines boot without it).
// mounted reports whether this process did the mount.
func Tracefs() (path string, mounted bool, err error) {
	s := &tracefsState
	s.once.Do(func() {
		if p := findTracefs(); p != "" {
			s.path = p
			return
		}
		if err := unix.Mount("tracefs", tracefsMountPoint, "tracefs", 0, ""); err != nil {
			s.err = fmt.Errorf("mount tracefs at %s: %v: %w", tracefsMountPoint, err, ErrNoTracefs)
			return
		}
		s.path, s.mounted = tracefsMountPoint, true
	})
	return s.path, s.mounted, s.err
}

// findTracefs returns a mounted tracefs, or debugfs' tracing directory on
// kernels where tracefs lives only there.
func findTracefs() string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return ""
	}
	defer f.Close()
	var debugfs string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		switch fields[2] {
		case "tracefs":
			return fields[1]
		case "debugfs":
			if debugfs == "" {
				debugfs = fields[1]
			}
		}
	}
	if debugfs != "" {
		if fi, err := os.Stat(filepath.Join(debugfs, "tracing")); err == nil && fi.IsDir() {
			return filepath.Join(debugfs, "tracing")
		}
	}
	return ""
}

// tracepointExists reports whether tracefs lists group/name.
func (k *kernel) tracepointExists(group, name string) (bool, error) {
	root, mounted, err := Tracefs()
	if err != nil {
		return false, err
	}
	if mounted {
		k.mountedTracefs = root
	}
	_, err = os.Stat(filepath.Join(root, "events", group, name, "id"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
