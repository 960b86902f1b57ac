/* SPDX-License-Identifier: GPL-2.0 */
/* ipcount.h: the maps ipcount.bpf.c fills and tools/ipcount reads. */
#ifndef __IPCOUNT_H
#define __IPCOUNT_H

/* source: an IPv6 address; IPv4 sources are stored v4-mapped (::ffff:a.b.c.d). */
struct source {
	__u8 addr[16];
} __attribute__((aligned(8)));

struct counts {
	__u64 packets;
	__u64 bytes;
};

/* Slots of the fast table, a direct-mapped per-CPU table in front of the
 * sources map: 4096, 32 bytes each per CPU. */
#define IPCOUNT_FAST_BITS 12
#define IPCOUNT_FAST_SLOTS (1 << IPCOUNT_FAST_BITS)

/* slot: one source and its counts; packets == 0 marks a free slot. */
struct slot {
	struct source src;
	__u64 packets;
	__u64 bytes;
};

/* Indexes of the totals map. */
enum ipcount_total {
	/* Frames that are not IPv4 or IPv6 (ARP, LLDP, ...). */
	IPCOUNT_NON_IP = 0,
	/* Frames too short for the headers they announce. */
	IPCOUNT_MALFORMED = 1,
	/* Sources inserted into the sources map (packets only). */
	IPCOUNT_NEW_SOURCES = 2,
	/* Packets of sources that could not be inserted. */
	IPCOUNT_INSERT_FAILED = 3,
	IPCOUNT_NR_TOTALS = 4,
};

#endif /* __IPCOUNT_H */
