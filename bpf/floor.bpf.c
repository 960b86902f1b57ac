// SPDX-License-Identifier: GPL-2.0
/*
 * floor: programs that do nothing, on opensnoop's syscall hooks, for
 * internal/bench's floor rows: what being attached there costs the traced
 * task before a program does any work, at the exit alone and at entry and
 * exit. internal/bench attaches them to each open syscall's tracepoints.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_openat")
int floor_enter(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int floor_exit(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
