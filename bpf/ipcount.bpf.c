// SPDX-License-Identifier: GPL-2.0
/*
 * ipcount: packets and bytes per source address (or prefix, or source and
 * protocol/port), IPv4 and IPv6, at XDP; optionally drops sources on a list
 * (LPM trie) or above a rate.
 *
 * Three kinds of state, so that a flood of spoofed sources cannot make any
 * number wrong, only some rows go missing:
 *   - totals: per-CPU counters per class and verdict of every packet that
 *     is not in a slot (see enum ipcount_total): with the slots, exact;
 *   - slots: a per-CPU direct-mapped table with two choices per key, one
 *     half per interval (epoch & 1). A key's slot is an array lookup (no hash
 *     map on the way); a key whose two slots are held by others takes the one
 *     with fewer packets once its holder has been asked for 8x its own
 *     packets, so sources sending a large share of the traffic stay and
 *     one-packet spoofed sources come and go;
 *   - the drop list, two LPM tries (one in force, one being refilled on
 *     SIGHUP, swapped through list_gen), and per-key rate windows.
 * Only the kernel writes slots and totals; user space reads the half of an
 * interval that has ended, so it never sees a slot change under it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ipcount.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

/* Set before load. */
const volatile __u32 targ_slot_bits = 12;	/* log2 of slots per interval and CPU */
const volatile __u32 targ_slot_shift = 64 - 12;	/* 64 - targ_slot_bits */
const volatile __u32 targ_slot_mask = (1 << 12) - 1;
const volatile __u64 targ_seed = 0;		/* hash seed, random per run */
const volatile __u64 targ_mask4 = ~0ULL;	/* --prefix4 mask of the IPv4 address word */
const volatile __u64 targ_mask6_0 = ~0ULL;	/* --prefix6 mask, first 8 bytes */
const volatile __u64 targ_mask6_1 = ~0ULL;	/* --prefix6 mask, last 8 bytes */
const volatile __u32 targ_by = 0;		/* 0: source; 1: + protocol; 2: + destination port */
const volatile bool targ_drop = false;		/* a drop list is in use */
const volatile bool targ_dry_run = false;	/* count what would be dropped, pass it */
const volatile __u64 targ_rate_limit = 0;	/* packets per second per key; 0: off */

/* Written by user space while the program runs. */
volatile __u32 epoch = 1;		/* the interval */
volatile __u32 list_gen = 1;		/* the drop list's version; parity picks the trie */
/* Per family (IPv4, IPv6): list_gen if no listed prefix is longer than a
 * key, so that a key has one verdict to keep in its slot; else 0. */
volatile __u32 list_cache[2] = {0, 0};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 << 12); /* set from --max-entries */
	__type(key, __u32);
	__type(value, struct slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * IPCOUNT_NR_TOTALS);
	__type(key, __u32);
	__type(value, struct counts);
} totals SEC(".maps");

/* The drop list: 1,048,576 prefixes at most; entries take memory only when
 * present (no preallocation). */
struct lpm_map {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
};
struct lpm_map drop_a SEC(".maps");
struct lpm_map drop_b SEC(".maps");

/* Rate windows, shared by the CPUs; LRU so that spoofed sources (one packet
 * each, never over a limit) cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct src_key);
	__type(value, struct rate);
} rates SEC(".maps");

static __always_inline void add(__u32 i, __u64 packets, __u64 bytes)
{
	struct counts *c = bpf_map_lookup_elem(&totals, &i);

	if (c) {
		c->packets += packets;
		c->bytes += bytes;
	}
}

static __always_inline void total(__u32 i, __u64 bytes)
{
	add(i, 1, bytes);
}

/* on_list looks a full source address up in the drop list in force. */
static __always_inline __u32 on_list(__u64 w0, __u64 w1)
{
	struct lpm_key k = {.prefixlen = 128};
	void *v;

	__builtin_memcpy(&k.addr[0], &w0, 8);
	__builtin_memcpy(&k.addr[8], &w1, 8);
	if (list_gen & 1)
		v = bpf_map_lookup_elem(&drop_b, &k);
	else
		v = bpf_map_lookup_elem(&drop_a, &k);
	return v ? IPCOUNT_DROP_LIST : IPCOUNT_PASS;
}

/*
 * over_rate counts a packet in its key's one-second window (a fixed window
 * that starts with the key's first packet after the last one ended) and
 * says whether the window is past the limit. CPUs racing at a window's
 * start may let a few packets more through.
 */
static __always_inline bool over_rate(__u64 a0, __u64 a1, __u64 w2)
{
	struct src_key k = {};
	struct rate fresh = {}, *r;
	__u64 now = bpf_ktime_get_coarse_ns();
	__u64 *kw = (__u64 *)k.addr;

	/* The source (or prefix) alone, with its family. */
	kw[0] = a0;
	kw[1] = a1;
	kw[2] = w2 & 0xff00;
	r = bpf_map_lookup_elem(&rates, &k);
	if (!r) {
		fresh.start = now;
		fresh.packets = 1;
		if (!bpf_map_update_elem(&rates, &k, &fresh, BPF_NOEXIST))
			return 1 > targ_rate_limit;
		r = bpf_map_lookup_elem(&rates, &k);
		if (!r)
			return false;
	}
	if (now - r->start >= 1000000000ULL) {
		r->start = now;
		r->packets = 0;
	}
	__sync_fetch_and_add(&r->packets, 1);
	return r->packets > targ_rate_limit;
}

/* holds: the slot is key's in this interval (w2 carries the epoch). */
static __always_inline bool holds(struct slot *s, __u64 a0, __u64 a1, __u64 w2)
{
	__u64 *k = (__u64 *)s->key.addr;

	return k[0] == a0 && k[1] == a1 && k[2] == w2;
}

static __always_inline void claim(struct slot *s, __u64 a0, __u64 a1, __u64 w2)
{
	__u64 *k = (__u64 *)s->key.addr;

	k[0] = a0;
	k[1] = a1;
	k[2] = w2;
	s->vgen = 0;
	s->votes = 0;
	__builtin_memset(s->c, 0, sizeof(s->c));
}

static __always_inline __u64 held(struct slot *s)
{
	return s->c[0].packets + s->c[1].packets + s->c[2].packets;
}

/*
 * find_slow is the lookup past a key's first choice: its second choice, a
 * free slot, or a takeover; NULL if the key stays untracked this time. A
 * function of its own, so that the first choice's path keeps its registers.
 */
static __noinline struct slot *find_slow(struct src_key *k, struct slot *s, __u64 h)
{
	__u64 *kw = (__u64 *)k->addr, a0 = kw[0], a1 = kw[1], w2 = kw[2];
	__u32 ep = w2 >> 32, base = (ep & 1) * IPCOUNT_NR_TOTALS;
	__u32 i = ((ep & 1) << targ_slot_bits) + (__u32)((h ^ (h >> 29)) & targ_slot_mask);
	struct slot *s2, *v;
	__u64 n;

	if (!s)
		return NULL;
	s2 = bpf_map_lookup_elem(&slots, &i);
	if (!s2)
		return NULL;
	if (holds(s2, a0, a1, w2))
		return s2;
	if (s->key.epoch != ep) {
		claim(s, a0, a1, w2);
		return s;
	}
	if (s2->key.epoch != ep) {
		claim(s2, a0, a1, w2);
		return s2;
	}
	v = s;
	n = held(s);
	if (held(s2) < n) {
		v = s2;
		n = held(s2);
	}
	v->votes++;
	if (v->votes < 8 * n)
		return NULL;
	/* The holder's counts leave the table for the totals. */
	i = base + (v->key.flags & IPCOUNT_KEY_V6) * 3;
	add(i + IPCOUNT_PASS, v->c[0].packets, v->c[0].bytes);
	add(i + IPCOUNT_DROP_LIST, v->c[1].packets, v->c[1].bytes);
	add(i + IPCOUNT_DROP_RATE, v->c[2].packets, v->c[2].bytes);
	add(base + IPCOUNT_EVICTED, n, v->c[0].bytes + v->c[1].bytes + v->c[2].bytes);
	add(base + IPCOUNT_EVICTIONS, 1, 0);
	claim(v, a0, a1, w2);
	return v;
}

/* l3_of returns the IP header of the frame ipcount() parsed. */
static __always_inline void *l3_of(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct vlan_hdr *vlan;
	__u32 off = sizeof(struct ethhdr), i;
	__u16 proto;

	if (data + sizeof(struct ethhdr) > end)
		return NULL;
	proto = ((struct ethhdr *)data)->h_proto;
	for (i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = data + off;
		if ((void *)(vlan + 1) > end)
			return NULL;
		proto = vlan->h_vlan_encapsulated_proto;
		off += sizeof(*vlan);
	}
	return data + off;
}

/*
 * list_verdict looks the packet's full source address up in the drop list
 * and keeps the verdict in s when keys have one (cache is then list_gen). A
 * function of its own, off the path of a verdict already kept.
 */
static __noinline __u32 list_verdict(struct xdp_md *ctx, struct slot *s, __u64 a0, __u64 a1, __u32 cache_v6)
{
	__u32 verdict, v6 = cache_v6 & 1, cache = cache_v6 >> 1;
	struct ipv6hdr *ip6;
	struct iphdr *ip;

	/* The full address, for keys cut to a prefix. */
	if (v6 && (targ_mask6_0 != ~0ULL || targ_mask6_1 != ~0ULL)) {
		ip6 = l3_of(ctx);
		if (!ip6 || (void *)(ip6 + 1) > (void *)(long)ctx->data_end)
			return IPCOUNT_PASS;
		a0 = ip6->saddr.in6_u.u6_addr32[0] | (__u64)ip6->saddr.in6_u.u6_addr32[1] << 32;
		a1 = ip6->saddr.in6_u.u6_addr32[2] | (__u64)ip6->saddr.in6_u.u6_addr32[3] << 32;
	} else if (!v6 && targ_mask4 != ~0ULL) {
		ip = l3_of(ctx);
		if (!ip || (void *)(ip + 1) > (void *)(long)ctx->data_end)
			return IPCOUNT_PASS;
		a1 = 0xffff0000ULL | (__u64)ip->saddr << 32;
	}
	verdict = on_list(a0, a1);
	if (s)
		s->vgen = cache << 2 | verdict;
	return verdict;
}

/*
 * count counts a packet of key (a0, a1, w2) and returns its XDP verdict.
 * Inlined once per family, so that an IPv4 key's constant first word costs
 * nothing.
 */
static __always_inline int count(struct xdp_md *ctx, __u64 a0, __u64 a1, __u64 w2, __u32 v6)
{
	__u32 verdict = IPCOUNT_PASS, i, base, ep = epoch;
	struct counts *c;
	struct slot *s;
	__u64 h, len;

	/* The key's first choice; Fibonacci hashing, seeded per run. */
	w2 |= (__u64)ep << 32;
	h = (a0 ^ a1 ^ (w2 << 7) ^ targ_seed) * 0x9E3779B97F4A7C15ULL;
	i = ((ep & 1) << targ_slot_bits) + (__u32)(h >> targ_slot_shift);
	s = bpf_map_lookup_elem(&slots, &i);
	if (!s)
		return XDP_PASS;
	if (!holds(s, a0, a1, w2)) {
		struct src_key k;
		__u64 *kw = (__u64 *)k.addr;

		kw[0] = a0;
		kw[1] = a1;
		kw[2] = w2;
		s = find_slow(&k, s, h);
	}
	if (targ_drop) {
		__u32 cache = list_cache[v6], vg = s ? s->vgen : 0;

		if (cache && vg >> 2 == cache)
			verdict = vg & 3;
		else
			verdict = list_verdict(ctx, s, a0, a1, cache << 1 | v6);
	}
	if (targ_rate_limit && verdict == IPCOUNT_PASS && over_rate(a0, a1, w2))
		verdict = IPCOUNT_DROP_RATE;

	len = (void *)(long)ctx->data_end - (void *)(long)ctx->data;
	if (s) {
		c = &s->c[verdict & 3];
		c->packets++;
		c->bytes += len;
	} else {
		base = (w2 >> 32 & 1) * IPCOUNT_NR_TOTALS;
		total(base + IPCOUNT_UNTRACKED, len);
		total(base + v6 * 3 + verdict, len);
	}
	if (verdict != IPCOUNT_PASS && !targ_dry_run)
		return XDP_DROP;
	return XDP_PASS;
}

/* ports_of returns the key's third word for --by: protocol and
 * destination port at off, or -1 if the frame is too short for them. */
static __always_inline long ports_of(void *data, void *end, __u32 off, __u8 l4, bool ports)
{
	__u8 *p;

	if (targ_by == 2 && ports && (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP)) {
		p = data + (off & 0x3fff);
		if ((void *)(p + 4) > end)
			return -1;
		return l4 | (long)(*(__u16 *)(p + 2)) << 16;
	}
	return l4;
}

SEC("xdp")
int ipcount(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct vlan_hdr *vlan;
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	__u64 a0, a1;
	long w2;
	__u32 off, i;
	__u16 proto;
	__u8 *p, l4;
	bool ports;

	if ((void *)(eth + 1) > end)
		goto malformed;
	proto = eth->h_proto;
	off = sizeof(*eth);
	/* Two tags: an 802.1ad outer and an 802.1Q inner (QinQ) at most. */
	for (i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = data + off;
		if ((void *)(vlan + 1) > end)
			goto malformed;
		proto = vlan->h_vlan_encapsulated_proto;
		off += sizeof(*vlan);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		__u8 vihl;

		ip = data + off;
		if ((void *)(ip + 1) > end)
			goto malformed;
		/* Version 4 and a header of 5 to 15 words: 0x45 to 0x4f, in one test. */
		vihl = *(__u8 *)ip;
		if ((__u8)(vihl - 0x45) > 0x0a)
			goto malformed;
		off += (vihl & 0x0f) * 4;
		/* The options, whole. */
		if (data + off > end)
			goto malformed;
		/* ::ffff:a.b.c.d, in memory order (little-endian words). */
		a1 = 0xffff0000ULL | (__u64)ip->saddr << 32;
		if (targ_mask4 != ~0ULL)
			a1 &= targ_mask4;
		w2 = 0;
		if (targ_by) {
			/* Ports only in a datagram's first fragment. */
			w2 = ports_of(data, end, off, ip->protocol, !(ip->frag_off & bpf_htons(0x1fff)));
			if (w2 < 0)
				goto malformed;
		}
		return count(ctx, 0, a1, w2, 0);
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = data + off;
		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			goto malformed;
		a0 = ip6->saddr.in6_u.u6_addr32[0] | (__u64)ip6->saddr.in6_u.u6_addr32[1] << 32;
		a1 = ip6->saddr.in6_u.u6_addr32[2] | (__u64)ip6->saddr.in6_u.u6_addr32[3] << 32;
		if (targ_mask6_0 != ~0ULL || targ_mask6_1 != ~0ULL) {
			a0 &= targ_mask6_0;
			a1 &= targ_mask6_1;
		}
		w2 = 0;
		if (targ_by) {
			l4 = ip6->nexthdr;
			off += sizeof(*ip6);
			ports = true;
			/* Extension headers: 6 at most (hop-by-hop, destination
			 * options twice, routing, fragment, authentication: every
			 * kind RFC 8200 orders before the upper layer). */
			for (i = 0; i < 6; i++) {
				if (l4 != 0 && l4 != 43 && l4 != 44 && l4 != 51 && l4 != 60)
					break;
				p = data + (off & 0x3fff);
				if ((void *)(p + 8) > end)
					goto malformed;
				if (l4 == 44) {
					/* Fragment: the offset's 13 bits. */
					if (((p[2] << 8) | p[3]) & 0xfff8)
						ports = false;
					off += 8;
				} else if (l4 == 51) {
					off += (p[1] + 2) * 4;
				} else {
					off += (p[1] + 1) * 8;
				}
				l4 = p[0];
			}
			w2 = ports_of(data, end, off, l4, ports);
			if (w2 < 0)
				goto malformed;
		}
		return count(ctx, a0, a1, w2 | IPCOUNT_KEY_V6 << 8, 1);
	}
	total((epoch & 1) * IPCOUNT_NR_TOTALS + IPCOUNT_NON_IP, end - data);
	return XDP_PASS;

malformed:
	total((epoch & 1) * IPCOUNT_NR_TOTALS + IPCOUNT_MALFORMED, end - data);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
