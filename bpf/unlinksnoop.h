/* SPDX-License-Identifier: GPL-2.0 */
/* unlinksnoop.h: the event unlinksnoop.bpf.c sends and tools/unlinksnoop decodes. */
#ifndef __UNLINKSNOOP_H
#define __UNLINKSNOOP_H

#include "task.h"
#include "path.h"

enum unlinksnoop_syscall {
	UNLINKSNOOP_UNLINK = 0,
	UNLINKSNOOP_UNLINKAT = 1,
	UNLINKSNOOP_RMDIR = 2,
	UNLINKSNOOP_RENAME = 3,
	UNLINKSNOOP_RENAMEAT = 4,
	UNLINKSNOOP_RENAMEAT2 = 5,
};

enum unlinksnoop_op {
	UNLINKSNOOP_OP_UNLINK = 0,
	UNLINKSNOOP_OP_RMDIR = 1, /* unlinkat(AT_REMOVEDIR) or rmdir(2) */
	UNLINKSNOOP_OP_RENAME = 2,
};

/* Whether a rename replaced an existing file. */
enum unlinksnoop_replaced {
	UNLINKSNOOP_REPLACED_UNKNOWN = 0, /* the target was not in the dentry cache */
	UNLINKSNOOP_REPLACED_NO = 1,
	UNLINKSNOOP_REPLACED_YES = 2,
};

/*
 * event: one deletion or rename, at syscall exit. path is what was
 * removed or renamed (the old name), new_path a rename's target, root the
 * process's root when it is not the host's; their strings follow.
 */
struct event {
	struct ebt_task task;
	struct ebt_path path;
	struct ebt_path new_path;
	struct ebt_path root;
	__s32 ret;
	__s32 dirfd;
	__s32 new_dirfd;
	__u32 rename_flags;
	__u8 syscall;
	__u8 op;
	__u8 replaced;
	__u8 pad[5];
};

#endif /* __UNLINKSNOOP_H */
