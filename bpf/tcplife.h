/* SPDX-License-Identifier: GPL-2.0 */
/* tcplife.h: the event tcplife.bpf.c sends and tools/tcplife decodes. */
#ifndef __TCPLIFE_H
#define __TCPLIFE_H

#include "task.h"

/* Indexes of the birth_stats counters: births recorded, and births taken
 * back out at close. What is neither still in the birth map nor closed
 * was evicted by the LRU. */
enum tcplife_stat {
	TCPLIFE_BIRTHS = 0,
	TCPLIFE_CLOSED = 1,
	TCPLIFE_NR_STATS = 2,
};

/* event: one TCP session, sent when it reaches TCP_CLOSE, its task the
 * process that connected or closed the socket. Ports are in host byte
 * order; IPv4 addresses use the first 4 bytes. */
struct event {
	struct ebt_task task;
	__u64 duration_ns;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u16 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

#endif /* __TCPLIFE_H */
