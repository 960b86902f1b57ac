/* SPDX-License-Identifier: GPL-2.0 */
/* unlinksnoop.h: the event unlinksnoop.bpf.c sends and tools/unlinksnoop decodes. */
#ifndef __UNLINKSNOOP_H
#define __UNLINKSNOOP_H

#define UNLINKSNOOP_COMM_LEN 16

enum unlinksnoop_syscall {
	UNLINKSNOOP_UNLINK = 0,
	UNLINKSNOOP_UNLINKAT = 1,
	UNLINKSNOOP_RMDIR = 2,
};

/*
 * event is followed by path_len bytes of path (no NUL): absolute, unless
 * path_flags says otherwise; the argument as passed starts at arg_off.
 */
struct event {
	__u64 ktime_ns;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__s32 ret;
	__s32 dirfd;
	__u32 path_flags;
	__u16 path_len;
	__u16 arg_off;
	__u8 syscall;
	__u8 rmdir; /* unlinkat(AT_REMOVEDIR) or rmdir(2) */
	__u8 pad[6];
	char comm[UNLINKSNOOP_COMM_LEN];
	char pcomm[UNLINKSNOOP_COMM_LEN];
};

#endif /* __UNLINKSNOOP_H */
