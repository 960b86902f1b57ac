/* SPDX-License-Identifier: GPL-2.0 */
/* execsnoop.h: the event execsnoop.bpf.c sends and tools/execsnoop decodes. */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#define EXECSNOOP_COMM_LEN 16
/* argv entries read at most: libbpf-tools' --max-args ceiling. */
#define EXECSNOOP_MAX_ARGS 60
/* Bytes for filename + argv strings, NUL-separated. A power of two. */
#define EXECSNOOP_ARGS_SIZE 8192
/* Longest single string kept (bytes, with its NUL); longer ones are cut and marked. */
#define EXECSNOOP_ARG_MAX 4096

enum execsnoop_flag {
	/* argv had more entries than --max-args, or than the buffer held. */
	EXECSNOOP_MORE_ARGS = 1 << 0,
	/* The call was execveat(2) (fexecve(3) and friends). */
	EXECSNOOP_EXECVEAT = 1 << 1,
};

/*
 * event is followed by args_size bytes: filename, then argv[0..args_count-2],
 * each NUL-terminated. Bit i of cut_mask says string i was cut.
 */
struct event {
	__u64 ktime_ns;
	__u64 cut_mask;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 args_count;
	__u32 args_size;
	__u32 flags;
	char comm[EXECSNOOP_COMM_LEN];
};

#endif /* __EXECSNOOP_H */
