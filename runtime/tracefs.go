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
			if errors.Is(err, unix.EPERM) {
				s.err = &PrivilegeError{Missing: []Capability{CapSysAdmin},
					For: "to mount tracefs at " + tracefsMountPoint + ", which is not mounted",
					Or:  "mount it first (mount -t tracefs tracefs " + tracefsMountPoint + ")"}
			}
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
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case errors.Is(err, os.ErrPermission):
		return false, tracefsPermission(root)
	}
	return err == nil, err
}

// tracefsPermission is the error for a tracefs this process may not read:
// tracefs is root's with mode 0700 unless mounted otherwise, and its
// tracepoint IDs are readable by root's group only.
func tracefsPermission(root string) error {
	return &PrivilegeError{Missing: []Capability{CapDACReadSearch},
		For: "to read tracefs at " + root,
		Or:  "let its group read tracefs (mount -o remount,gid=GROUP,mode=750 " + root + ")"}
}

// TracefsMounted reports whether tracefs is mounted (or reachable in
// debugfs), without mounting it.
func TracefsMounted() bool { return findTracefs() != "" }

// tracefsWorldReadable reports whether users other than root may read the
// tracepoint IDs under tracefs at root without CAP_DAC_READ_SEARCH (as a
// tracefs mounted with mode=755 and a gid of theirs allows, for example).
func tracefsWorldReadable(root string) bool {
	for _, p := range []string{root, filepath.Join(root, "events")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
	}
	fi, err := os.Stat(filepath.Join(root, "events", "syscalls", "sys_enter_openat", "id"))
	return err == nil && fi.Mode().Perm()&0o004 != 0
}
