/* SPDX-License-Identifier: GPL-2.0 */
/* opensnoop.h: the event opensnoop.bpf.c sends and tools/opensnoop decodes. */
#ifndef __OPENSNOOP_H
#define __OPENSNOOP_H

#include "task.h"
#include "path.h"

enum opensnoop_syscall {
	OPENSNOOP_OPEN = 0,
	OPENSNOOP_OPENAT = 1,
	OPENSNOOP_OPENAT2 = 2,
};

/*
 * event is followed by its strings: path.arg is the argument as passed;
 * with targ_full_path, path is the file's canonical path (path.bpf.h): of
 * the file opened, or for a failed open, its directory resolved and name.
 */
struct event {
	struct ebt_task task;
	struct ebt_path path;
	__u64 flags;
	__s32 ret;
	__s32 dirfd;
	__u32 mode;
	__u8 syscall;
	__u8 pad[3];
};

#endif /* __OPENSNOOP_H */
