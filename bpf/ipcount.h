/* SPDX-License-Identifier: GPL-2.0 */
/* ipcount.h: the maps ipcount.bpf.c fills and tools/ipcount reads. */
#ifndef __IPCOUNT_H
#define __IPCOUNT_H

/*
 * src_key: what a row counts. An IPv6 address, or for IPv4 packets the
 * IPv4 address in bytes 12 to 15 (the rest 0; user space shows it
 * v4-mapped, ::ffff:a.b.c.d), cut to the --prefix4/--prefix6 length, and
 * with --by the IP protocol and the TCP/UDP destination port (network
 * order), else 0. A slot is free unless key.epoch is the current epoch.
 */
struct src_key {
	__u8 addr[16];
	__u8 proto;
	/* IPCOUNT_KEY_V6 for IPv6 packets (::ffff:a.b.c.d sent as IPv6 is
	 * not IPv4); in a slot, also how its packets are judged
	 * (IPCOUNT_KEY_LISTED, _LOOKUP, _RATE). */
	__u8 flags;
	__u16 dport;
	/* The epoch the slot holding this key belongs to (0 in lists). */
	__u32 epoch;
} __attribute__((aligned(8)));

/*
 * Key flags. A packet's own key has only IPCOUNT_KEY_V6; the other flags are
 * set in a slot when its key is claimed, for the epoch (drop lists are
 * changed between epochs only), and make the first choice's compare miss,
 * so that only keys whose every packet passes unlooked-at are counted on
 * the short path.
 */
enum ipcount_key_flag {
	IPCOUNT_KEY_V6 = 1,
	/* The key is on the drop list: its packets are dropped. */
	IPCOUNT_KEY_LISTED = 2,
	/* The key holds sources with different verdicts (a listed prefix is
	 * longer than the key): each packet is looked up. */
	IPCOUNT_KEY_LOOKUP = 4,
	/* Each packet counts against --rate-limit. */
	IPCOUNT_KEY_RATE = 8,
};

struct counts {
	__u64 packets;
	__u64 bytes;
};

/*
 * slot: one key's counts for one epoch on one CPU. The table is
 * direct-mapped with two choices per key; a slot whose epoch is not the
 * current one is free. Only the kernel writes slots; user space reads the
 * half of the table of an epoch that has ended.
 */
struct slot {
	struct src_key key;
	/* Passed, dropped by the drop list, dropped by --rate-limit (or that
	 * would have been, --dry-run): indexed by enum ipcount_verdict. */
	struct counts c[3];
	/* Packets of other keys that wanted this slot while it was full:
	 * a key holding it is replaced when these reach 8x its packets. */
	__u64 votes;
};

/* rate: a rate-limited key's current one-second window. */
struct rate {
	__u64 start; /* bpf_ktime_get_coarse_ns() of the window's first packet */
	__u64 packets;
};

/*
 * lpm_key: a drop-list prefix. The family comes first, so that a prefix of
 * one family never matches an address of the other (::/0 is every IPv6
 * address, no IPv4 one); IPv4 addresses are v4-mapped. prefixlen counts the
 * family's 32 bits: 32 + 96 + len for IPv4, 32 + len for IPv6.
 */
struct lpm_key {
	__u32 prefixlen;
	__u32 family; /* IPCOUNT_LPM_V4 or IPCOUNT_LPM_V6 */
	__u8 addr[16];
};

enum ipcount_lpm_family {
	IPCOUNT_LPM_V4 = 4,
	IPCOUNT_LPM_V6 = 6,
};

/* Verdicts. */
enum ipcount_verdict {
	IPCOUNT_PASS = 0,
	IPCOUNT_DROP_LIST = 1,
	IPCOUNT_DROP_RATE = 2,
};

/*
 * Indexes of the totals map. Every packet is counted exactly once: in the
 * slot of its key, or here. The exact totals of an epoch are the sum of
 * its slots and of these counters; a slot taken over is moved here by the
 * same program run, so nothing falls between. Each half of the table has
 * its own IPCOUNT_NR_TOTALS entries, at half * IPCOUNT_NR_TOTALS, whose
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
