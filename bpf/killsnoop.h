/* SPDX-License-Identifier: GPL-2.0 */
/* killsnoop.h: the event killsnoop.bpf.c sends and tools/killsnoop decodes. */
#ifndef __KILLSNOOP_H
#define __KILLSNOOP_H

#include "task.h"

enum killsnoop_syscall {
	KILLSNOOP_KILL = 0,
	KILLSNOOP_TKILL = 1,
	KILLSNOOP_TGKILL = 2,
};

/* event: one kill(2), tkill(2) or tgkill(2), at syscall exit. */
struct event {
	struct ebt_task task;
	__s32 ret;
	__s32 tpid; /* the pid (tid) argument: < 0 is a process group */
	__u32 sig;
	__u8 syscall;
	__u8 found; /* a signal was generated: tcomm is its target's */
	__u8 pad[2];
	char tcomm[EBT_COMM_LEN];
};

#endif /* __KILLSNOOP_H */
