// SPDX-License-Identifier: GPL-2.0
/*
 * lossy: a test program for the runtime's lost-event accounting. Its ring
 * buffer holds only a few of its events, so a reader that is not reading
 * makes it drop, and every drop must be counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define EBT_RINGBUF_SIZE 4096
#include "ebtools.bpf.h"

const volatile __u32 targ_pid = 0;

struct lossy_event {
	__u32 seq;
	char pad[500];
};

struct lossy_event scratch = {};

SEC("tracepoint/syscalls/sys_enter_getppid")
int lossy_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	scratch.seq++;
	ebt_output(ctx, &scratch, sizeof(scratch));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
