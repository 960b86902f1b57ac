/* SPDX-License-Identifier: GPL-2.0 */
/* path.h: what path.bpf.h reports about a path, shared with Go (tools/internal/fspath). */
#ifndef __EBTOOLS_PATH_H
#define __EBTOOLS_PATH_H

/* PATH_MAX: the longest path argument the kernel accepts, with its NUL. */
#define EBT_PATH_MAX 4096

enum ebt_path_flag {
	/* The directory was deeper than the walk: its top is missing. */
	EBT_PATH_DIR_CUT = 1 << 0,
	/* The dirfd (or cwd) could not be resolved: the path is as given. */
	EBT_PATH_UNRESOLVED = 1 << 1,
	/* The argument could not be read from user memory. */
	EBT_PATH_UNREADABLE = 1 << 2,
	/* The argument was PATH_MAX bytes or longer and was cut. */
	EBT_PATH_ARG_CUT = 1 << 3,
};

#endif /* __EBTOOLS_PATH_H */
