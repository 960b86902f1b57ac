/* SPDX-License-Identifier: GPL-2.0 */
/* opensnoop.h: the event opensnoop.bpf.c sends and tools/opensnoop decodes. */
#ifndef __OPENSNOOP_H
#define __OPENSNOOP_H

#define OPENSNOOP_COMM_LEN 16

enum opensnoop_syscall {
	OPENSNOOP_OPEN = 0,
	OPENSNOOP_OPENAT = 1,
	OPENSNOOP_OPENAT2 = 2,
};

/*
 * event is followed by path_len bytes of path (no NUL): absolute with
 * targ_full_path unless path_flags says otherwise, else as given; the
 * argument as passed starts at arg_off.
 */
struct event {
	__u64 ktime_ns;
	__u64 flags;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret;
	__s32 dirfd;
	__u32 mode;
	__u32 path_flags;
	__u16 path_len;
	__u16 arg_off;
	__u8 syscall;
	__u8 pad[7];
	char comm[OPENSNOOP_COMM_LEN];
};

#endif /* __OPENSNOOP_H */
