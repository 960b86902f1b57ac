/* SPDX-License-Identifier: GPL-2.0 */
/* execsnoop.h: the event execsnoop.bpf.c sends and tools/execsnoop decodes. */
#ifndef __EXECSNOOP_H
#define __EXECSNOOP_H

#include "task.h"
#include "path.h"

/* Bytes of argv kept per exec, NUL-separated; more is cut and marked. */
#define EXECSNOOP_ARGS_SIZE 32768
/* argv entries read from the caller at entry, for failed execs (-x). */
#define EXECSNOOP_ENTRY_ARGS 128
/* Longest single string kept (bytes, with its NUL): PATH_MAX. */
#define EXECSNOOP_STR_MAX 4096
/* The variable part: argv, then filename, interpreter and exe. */
#define EXECSNOOP_DATA_SIZE (EXECSNOOP_ARGS_SIZE + 3 * EXECSNOOP_STR_MAX)

enum execsnoop_flag {
	/* argv was longer than what was kept: its end is missing. */
	EXECSNOOP_MORE_ARGS = 1 << 0,
	/* The call was execveat(2) (fexecve(3) and friends). */
	EXECSNOOP_EXECVEAT = 1 << 1,
	/* The program is a script (#!) or binfmt_misc: interp ran it. */
	EXECSNOOP_SCRIPT = 1 << 2,
	/* argv could not be read from the new image. */
	EXECSNOOP_ARGS_UNREADABLE = 1 << 3,
	/* argv was read from the caller at entry (a failed exec): any
	 * argument in cut_mask was cut or unreadable. */
	EXECSNOOP_ENTRY = 1 << 4,
	/* The syscall is not known (the exec began before tracing). */
	EXECSNOOP_NO_SYSCALL = 1 << 5,
};

/*
 * event is followed by its strings, each at its *_off from the record's
 * start: argv (args_len bytes, NUL-separated), then NUL-terminated
 * filename (as the caller named it, "/dev/fd/N" for an fd), interp (the
 * interpreter, for scripts), and exe's path. A string with length 0 is
 * absent.
 */
struct event {
	struct ebt_task task;
	/* EXECSNOOP_ENTRY: bit i says argv[i] was cut or unreadable. */
	__u64 cut_mask;
	/* The file the kernel ran (path.bpf.h); empty for failed execs. */
	struct ebt_path exe;
	__s32 ret;
	/* argv entries the program was given (entries read, for ENTRY). */
	__u32 argc;
	__u32 flags;
	__u16 args_off;
	__u16 args_len;
	__u16 filename_off;
	__u16 filename_len;
	__u16 interp_off;
	__u16 interp_len;
};

#endif /* __EXECSNOOP_H */
