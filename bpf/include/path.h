/* SPDX-License-Identifier: GPL-2.0 */
/*
 * path.h: how the file tools report a path (path.bpf.h), shared with Go
 * (tools/internal/fspath).
 */
#ifndef __EBTOOLS_PATH_H
#define __EBTOOLS_PATH_H

/* PATH_MAX: the longest path argument the kernel accepts, with its NUL. */
#define EBT_PATH_MAX 4096

enum ebt_path_flag {
	/* The file was deeper than the walk: the path's top is missing. */
	EBT_PATH_DIR_CUT = 1 << 0,
	/* The kernel could not resolve the argument (a component or symlink
	 * not in the dentry cache, ...): the path is the start directory's
	 * and the argument as given. */
	EBT_PATH_UNRESOLVED = 1 << 1,
	/* The argument could not be read from user memory. */
	EBT_PATH_UNREADABLE = 1 << 2,
	/* The argument was PATH_MAX bytes or longer and was cut. */
	EBT_PATH_ARG_CUT = 1 << 3,
	/* The file had been deleted (as "(deleted)" in /proc/PID/exe). */
	EBT_PATH_DELETED = 1 << 4,
	/* The file is on no mounted tree: a memfd, an anonymous inode, a
	 * disconnected dentry. The path is its name alone. */
	EBT_PATH_DETACHED = 1 << 5,
	/* The file's directory is --path's directory or below it, by identity
	 * (device and inode), whatever the spelling. */
	EBT_PATH_MATCHED = 1 << 6,
	/* The argument named the directory itself: "." or "..". */
	EBT_PATH_NO_NAME = 1 << 7,
};

/*
 * ebt_path: one path of an event. The path is the file's path inside its
 * filesystem (from the filesystem's root), user space finds where that
 * filesystem is mounted on the host (dev, /proc/1/mountinfo). The strings
 * are at their offsets from the record's start, without a NUL.
 */
struct ebt_path {
	__u32 dev; /* st_dev in the kernel's encoding: major << 20 | minor */
	__u32 flags; /* enum ebt_path_flag */
	__u16 off;
	__u16 len;
	__u16 arg_off; /* the argument as the process passed it */
	__u16 arg_len;
};

#endif /* __EBTOOLS_PATH_H */
