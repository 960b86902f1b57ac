/* SPDX-License-Identifier: GPL-2.0 */
/* ipcount.h: the maps ipcount.bpf.c fills and tools/ipcount reads. */
#ifndef __IPCOUNT_H
#define __IPCOUNT_H

/*
 * src_key: what a row counts. An IPv6 address (IPv4 sources stored v4-mapped,
 * ::ffff:a.b.c.d), cut to the --prefix4/--prefix6 length, and with --by the
 * IP protocol and the TCP/UDP destination port (network order), else 0.
 * A slot is free unless key.epoch is the current interval.
 */
struct src_key {
	__u8 addr[16];
	__u8 proto;
	/* IPCOUNT_KEY_V6 for IPv6 packets (::ffff:a.b.c.d sent as IPv6 is
	 * not IPv4). */
	__u8 flags;
	__u16 dport;
	/* The interval the slot holding this key belongs to (0 in lists). */
	__u32 epoch;
} __attribute__((aligned(8)));

/*
 * slot: one key's counts for one interval on one CPU. The table is
 * direct-mapped with two choices per key; a slot whose epoch is not the
 * current one is free. Only the kernel writes slots; user space reads the
 * half of the table of an interval that has ended.
 */
struct counts {
	__u64 packets;
	__u64 bytes;
};

struct slot {
	struct src_key key;
	/* The drop-list verdict for key: (list generation << 2) | verdict,
	 * valid while the generation is the one in force. */
	__u32 vgen;
	/* Packets of other keys that wanted this slot while it was full:
	 * a key holding it is replaced when these reach 8x its packets. */
	__u32 votes;
	/* Passed, dropped by the drop list, dropped by --rate-limit (or that
	 * would have been, --dry-run): indexed by enum ipcount_verdict. */
	struct counts c[4];
};

/* rate: a rate-limited key's current one-second window. */
struct rate {
	__u64 start; /* bpf_ktime_get_coarse_ns() of the window's first packet */
	__u64 packets;
};

/* lpm_key: a drop-list prefix, IPv4 as v4-mapped (prefixlen 96 + len). */
struct lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

#define IPCOUNT_KEY_V6 1

/* Verdicts (slot.verdict). */
enum ipcount_verdict {
	IPCOUNT_PASS = 0,
	IPCOUNT_DROP_LIST = 1,
	IPCOUNT_DROP_RATE = 2,
};

/*
 * Indexes of the totals map. Every packet is counted exactly once: in the
 * slot of its key, or here. The exact totals of an interval are the sum of
 * its slots and of these counters; a slot taken over is moved here by the
 * same program run, so nothing falls between. Each interval has its own
 * half, IPCOUNT_NR_TOTALS entries at (epoch & 1) * IPCOUNT_NR_TOTALS, whose
 * counts only grow: user space takes the difference of two readings.
 */
enum ipcount_total {
	/* IPv4 and IPv6 packets not in a slot (untracked or evicted), by
	 * verdict; they follow enum ipcount_verdict. */
	IPCOUNT_V4_PASS = 0,
	IPCOUNT_V4_DROP_LIST = 1,
	IPCOUNT_V4_DROP_RATE = 2,
	IPCOUNT_V6_PASS = 3,
	IPCOUNT_V6_DROP_LIST = 4,
	IPCOUNT_V6_DROP_RATE = 5,
	/* Frames that are not IPv4 or IPv6 (ARP, LLDP, ...). */
	IPCOUNT_NON_IP = 6,
	/* Frames too short for the headers they announce, or not IPv4/IPv6
	 * inside an IP ethertype. */
	IPCOUNT_MALFORMED = 7,
	/* Of the above: packets and bytes of slots another key took over. */
	IPCOUNT_EVICTED = 8,
	/* packets: how many slots were taken over. */
	IPCOUNT_EVICTIONS = 9,
	/* Of the above: packets of keys that found both their slots held. */
	IPCOUNT_UNTRACKED = 10,
	IPCOUNT_NR_TOTALS = 11,
};

#endif /* __IPCOUNT_H */
