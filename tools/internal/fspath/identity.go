package fspath

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Identity returns the device (the kernel's encoding of its filesystem's
// st_dev, as a dentry's d_sb->s_dev: also right for btrfs subvolumes and
// overlayfs, whose stat(2) says otherwise) and inode of the file at path,
// symlinks followed.
func Identity(path string) (dev uint32, ino uint64, err error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_INO|unix.STATX_MNT_ID, &st); err != nil {
		return 0, 0, fmt.Errorf("stat %q: %w", path, err)
	}
	if st.Mask&unix.STATX_MNT_ID != 0 {
		for _, f := range []string{"/proc/1/mountinfo", "/proc/self/mountinfo"} {
			if d, ok := mountDev(f, st.Mnt_id); ok {
				return d, st.Ino, nil
			}
		}
	}
	// Before 5.8: stat's own device.
	return uint32(st.Dev_major)<<20 | st.Dev_minor, st.Ino, nil
}

// mountDev returns the device of the mount with id in a mountinfo file.
func mountDev(file string, id uint64) (uint32, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	want := strconv.FormatUint(id, 10) + " "
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, want) {
			continue
		}
		fields := strings.Fields(l)
		if len(fields) < 3 {
			return 0, false
		}
		maj, min, _ := strings.Cut(fields[2], ":")
		a, err1 := strconv.ParseUint(maj, 10, 12)
		b, err2 := strconv.ParseUint(min, 10, 20)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return uint32(a<<20 | b), true
	}
	return 0, false
}

// Constants are the kernel-side settings of path.bpf.h: the host's root,
// so a chrooted process's root is reported, and --path's directory (""
// for none), matched by identity.
func Constants(dir string) (map[string]any, error) {
	c := map[string]any{}
	if dev, ino, err := Identity("/proc/1/root"); err == nil {
		c["ebt_root_dev"], c["ebt_root_ino"] = dev, ino
	} else if dev, ino, err := Identity("/"); err == nil {
		c["ebt_root_dev"], c["ebt_root_ino"] = dev, ino
	}
	if dir != "" {
		dev, ino, err := Identity(dir)
		if err != nil {
			return nil, err
		}
		c["targ_dir_dev"], c["targ_dir_ino"] = dev, ino
	}
	return c, nil
}
