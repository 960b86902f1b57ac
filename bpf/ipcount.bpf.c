// SPDX-License-Identifier: GPL-2.0
/*
 * ipcount: packets and bytes per source address, IPv4 and IPv6, at XDP.
 * It only observes: every frame gets XDP_PASS, unchanged.
 *
 * A source is counted in one of two places: a slot of the fast table (a
 * per-CPU array indexed by a hash of the address: an inlined array lookup,
 * a third the cost of a hash map's), or, when its slot belongs to another
 * address, the sources LRU hash map. User space adds both up.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ipcount.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

/* LRU and per CPU: a flood of new sources evicts old ones instead of being
 * refused, and CPUs never contend for a counter. The size is set from
 * --max-entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct source);
	__type(value, struct counts);
} sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IPCOUNT_FAST_SLOTS);
	__type(key, __u32);
	__type(value, struct slot);
} fast SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IPCOUNT_NR_TOTALS);
	__type(key, __u32);
	__type(value, struct counts);
} totals SEC(".maps");

static __always_inline void total(__u32 which, __u64 bytes)
{
	struct counts *c = bpf_map_lookup_elem(&totals, &which);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* count adds a packet of bytes from the address whose two 64-bit words are
 * w0 and w1 (memory order). */
static __always_inline void count(__u64 w0, __u64 w1, __u64 bytes)
{
	/* Fibonacci hashing of the address to a slot. */
	__u32 i = ((w0 ^ w1) * 0x9E3779B97F4A7C15ULL) >> (64 - IPCOUNT_FAST_BITS);
	struct counts first = {.packets = 1, .bytes = bytes};
	struct slot *sl = bpf_map_lookup_elem(&fast, &i);
	struct source src;
	struct counts *c;
	__u64 *sw;

	if (sl) {
		sw = (__u64 *)sl->src.addr;
		if (sw[0] == w0 && sw[1] == w1 && sl->packets) {
			sl->packets++;
			sl->bytes += bytes;
			return;
		}
		if (sl->packets == 0) {
			sw[0] = w0;
			sw[1] = w1;
			sl->packets = 1;
			sl->bytes = bytes;
			return;
		}
	}

	/* The slot belongs to another address: the sources map. */
	__builtin_memcpy(&src.addr[0], &w0, 8);
	__builtin_memcpy(&src.addr[8], &w1, 8);
	c = bpf_map_lookup_elem(&sources, &src);
	if (c) {
		c->packets++;
		c->bytes += bytes;
		return;
	}
	if (!bpf_map_update_elem(&sources, &src, &first, BPF_NOEXIST)) {
		total(IPCOUNT_NEW_SOURCES, 0);
		return;
	}
	/* Another CPU inserted it meanwhile: count into its entry. */
	c = bpf_map_lookup_elem(&sources, &src);
	if (c) {
		c->packets++;
		c->bytes += bytes;
		return;
	}
	total(IPCOUNT_INSERT_FAILED, bytes);
}

SEC("xdp")
int ipcount(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct ethhdr *eth = data;
	struct vlan_hdr *vlan;
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	void *cur;
	__u64 w0, w1;
	__u16 proto;
	int i;

	if ((void *)(eth + 1) > end)
		goto malformed;
	proto = eth->h_proto;
	cur = eth + 1;
	/* Two tags: an 802.1ad outer and an 802.1Q inner (QinQ) at most. */
	for (i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = cur;
		if ((void *)(vlan + 1) > end)
			goto malformed;
		proto = vlan->h_vlan_encapsulated_proto;
		cur = vlan + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		ip = cur;
		/* Version 4 and a header of 5 to 15 words: 0x45 to 0x4f, in one test. */
		if ((void *)(ip + 1) > end || (__u8)(*(__u8 *)ip - 0x45) > 0x0a)
			goto malformed;
		/* ::ffff:a.b.c.d, as little- or big-endian words alike. */
		w0 = 0;
		w1 = 0;
		((__u8 *)&w1)[2] = 0xff;
		((__u8 *)&w1)[3] = 0xff;
		__builtin_memcpy((__u8 *)&w1 + 4, &ip->saddr, 4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = cur;
		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			goto malformed;
		__builtin_memcpy(&w0, &ip6->saddr, 8);
		__builtin_memcpy(&w1, (__u8 *)&ip6->saddr + 8, 8);
	} else {
		total(IPCOUNT_NON_IP, len);
		return XDP_PASS;
	}
	count(w0, w1, len);
	return XDP_PASS;

malformed:
	total(IPCOUNT_MALFORMED, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
