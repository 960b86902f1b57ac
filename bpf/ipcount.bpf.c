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
 *     half per epoch. A key's slot is an array lookup (no hash map on the
 *     way); a key whose two slots are held by others takes the one with
 *     fewer packets once its holder has been asked for 8x its own packets,
 *     so sources sending a large share of the traffic stay and one-packet
 *     spoofed sources come and go;
 *   - the drop list, two LPM tries (one in force, one being refilled on
 *     SIGHUP, swapped through list_gen), and per-key rate windows.
 * Only the kernel writes slots and totals; user space reads the half of an
 * epoch that has ended, so it never sees a slot change under it. An epoch
 * ends with each interval, and when the drop list is changed.
 *
 * The short path: a packet whose key holds its first choice, with no
 * verdict to look up (IPCOUNT_KEY_V6 the only flag), is counted there with
 * one array lookup and no other map or helper; everything else (second
 * choice, claims, takeovers, drop-list and rate verdicts, totals) is
 * slow(), a function of its own.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ipcount.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

/* The flags a slot may add to a packet's key (ipcount.h), in the key's
 * third word. */
#define KEPT ((__u64)(IPCOUNT_KEY_LISTED | IPCOUNT_KEY_LOOKUP | IPCOUNT_KEY_RATE) << 8)
#define KEY_V6 ((__u64)IPCOUNT_KEY_V6 << 8)

/* Bits of targ_keys. */
#define KEYS_PREFIX4 1
#define KEYS_PREFIX6 2
#define KEYS_BY 4

/* Set before load. */
const volatile __u32 targ_slot_bits = 12;	/* log2 of slots per half and CPU */
const volatile __u32 targ_slot_shift = 64 - 12;	/* 64 - targ_slot_bits */
const volatile __u64 targ_mask4 = ~0ULL;	/* --prefix4 mask of the IPv4 address word */
const volatile __u64 targ_mask6_0 = ~0ULL;	/* --prefix6 mask, first 8 bytes */
const volatile __u64 targ_mask6_1 = ~0ULL;	/* --prefix6 mask, last 8 bytes */
const volatile __u32 targ_by = 0;		/* 0: source; 1: + protocol; 2: + destination port */
/* What keys hold besides the source address, in one word for the short
 * path: KEYS_PREFIX4 (--prefix4 below 32), KEYS_PREFIX6, KEYS_BY. */
const volatile __u32 targ_keys = 0;
const volatile bool targ_drop = false;		/* a drop list is in use */
const volatile bool targ_dry_run = false;	/* count what would be dropped, pass it */
const volatile __u64 targ_rate_limit = 0;	/* packets per second per key; 0: off */

/*
 * Written by user space while the program runs. now: the epoch (low 32
 * bits, never 0; it starts at a random value, which seeds the hash) and the
 * index of the first slot of its half of the table (high 32 bits), in one
 * word so that a packet never sees the one without the other.
 */
volatile __u64 now = 1;
volatile __u32 list_gen = 1;	/* the drop list's version; parity picks the trie */
/* Bit 0 for IPv4, 1 for IPv6: no listed prefix is longer than a key, so a
 * key's sources share one verdict, kept in its slot for the epoch. */
volatile __u32 list_uniform = 0;

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

/* other counts a frame that is not IPv4 or IPv6 (IPCOUNT_NON_IP) or that
 * is malformed (IPCOUNT_MALFORMED). */
static __noinline int other(struct xdp_md *ctx, __u32 which)
{
	/* The first half's slots start at 0. */
	__u32 half = (now >> 32) != 0;

	add(half * IPCOUNT_NR_TOTALS + which, 1, (void *)(long)ctx->data_end - (void *)(long)ctx->data);
	return XDP_PASS;
}

/*
 * full_addr returns in a0, a1 the packet's source address as the drop
 * list has it (IPv4 v4-mapped), from its key (a0, a1), or, if keys are
 * prefixes, from the packet again (ipcount() parsed it, so the headers are
 * there).
 */
static __always_inline bool full_addr(struct xdp_md *ctx, __u64 *a0, __u64 *a1, bool v6)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 off = sizeof(struct ethhdr), i;
	struct vlan_hdr *vlan;
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	__u16 proto;

	if (v6 ? targ_mask6_0 == ~0ULL && targ_mask6_1 == ~0ULL : targ_mask4 == ~0ULL) {
		if (!v6)
			*a1 |= 0xffff0000ULL;
		return true;
	}
	if (data + sizeof(struct ethhdr) > end)
		return false;
	proto = ((struct ethhdr *)data)->h_proto;
	for (i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = data + off;
		if ((void *)(vlan + 1) > end)
			return false;
		proto = vlan->h_vlan_encapsulated_proto;
		off += sizeof(*vlan);
	}
	if (v6) {
		ip6 = data + off;
		if ((void *)(ip6 + 1) > end)
			return false;
		*a0 = ip6->saddr.in6_u.u6_addr32[0] | (__u64)ip6->saddr.in6_u.u6_addr32[1] << 32;
		*a1 = ip6->saddr.in6_u.u6_addr32[2] | (__u64)ip6->saddr.in6_u.u6_addr32[3] << 32;
	} else {
		ip = data + off;
		if ((void *)(ip + 1) > end)
			return false;
		*a1 = 0xffff0000ULL | (__u64)ip->saddr << 32;
	}
	return true;
}

/* on_list looks the packet's source address up in the drop list in force. */
static __always_inline __u32 on_list(struct xdp_md *ctx, __u64 a0, __u64 a1, bool v6)
{
	struct lpm_key k = {.prefixlen = 32 + 128};
	void *v;

	if (!full_addr(ctx, &a0, &a1, v6))
		return IPCOUNT_PASS;
	k.family = v6 ? IPCOUNT_LPM_V6 : IPCOUNT_LPM_V4;
	__builtin_memcpy(&k.addr[0], &a0, 8);
	__builtin_memcpy(&k.addr[8], &a1, 8);
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
	__u64 now_ns = bpf_ktime_get_coarse_ns();
	__u64 *kw = (__u64 *)k.addr;

	/* The source (or prefix) alone, with its family. */
	kw[0] = a0;
	kw[1] = a1;
	kw[2] = w2 & KEY_V6;
	r = bpf_map_lookup_elem(&rates, &k);
	if (!r) {
		fresh.start = now_ns;
		fresh.packets = 1;
		if (!bpf_map_update_elem(&rates, &k, &fresh, BPF_NOEXIST))
			return 1 > targ_rate_limit;
		r = bpf_map_lookup_elem(&rates, &k);
		if (!r)
			return false;
	}
	if (now_ns - r->start >= 1000000000ULL) {
		r->start = now_ns;
		r->packets = 0;
	}
	__sync_fetch_and_add(&r->packets, 1);
	return r->packets > targ_rate_limit;
}

/* holds: the slot is key's in this epoch (w2 carries the epoch), whatever
 * flags the slot added. */
static __always_inline bool holds(struct slot *s, __u64 a0, __u64 a1, __u64 w2)
{
	__u64 *k = (__u64 *)s->key.addr;

	return k[0] == a0 && k[1] == a1 && (k[2] & ~KEPT) == w2;
}

static __always_inline bool stale(struct slot *s, __u64 w2)
{
	return s->key.epoch != (__u32)(w2 >> 32);
}

static __always_inline __u64 held(struct slot *s)
{
	return s->c[0].packets + s->c[1].packets + s->c[2].packets;
}

/*
 * kept returns the flags a slot claimed by the key adds: its drop-list
 * verdict, if its sources share one, and whether --rate-limit must see its
 * packets. The list can only change between epochs.
 */
static __always_inline __u64 kept(struct xdp_md *ctx, __u64 a0, __u64 a1, bool v6)
{
	__u64 f = 0;

	if (targ_drop) {
		if (!(list_uniform >> v6 & 1))
			f = IPCOUNT_KEY_LOOKUP;
		else if (on_list(ctx, a0, a1, v6) != IPCOUNT_PASS)
			return (__u64)IPCOUNT_KEY_LISTED << 8;
	}
	if (targ_rate_limit)
		f |= IPCOUNT_KEY_RATE;
	return f << 8;
}

static __always_inline void claim(struct slot *s, __u64 a0, __u64 a1, __u64 w2)
{
	__u64 *k = (__u64 *)s->key.addr;

	k[0] = a0;
	k[1] = a1;
	k[2] = w2;
	s->votes = 0;
	__builtin_memset(s->c, 0, sizeof(s->c));
}

/*
 * take returns a slot for the key (a0, a1, w2) past its first choice s
 * (index i) and its second choice s2, both held by others: a free one, or
 * a takeover, claimed with the flags f; NULL if the key stays untracked
 * this time.
 */
static __always_inline struct slot *take(struct slot *s, struct slot *s2, __u32 i, __u64 a0, __u64 a1, __u64 w2, __u64 f)
{
	__u32 base = (i >> targ_slot_bits) * IPCOUNT_NR_TOTALS;
	struct slot *v;
	__u64 n;

	if (stale(s, w2)) {
		claim(s, a0, a1, w2 | f);
		return s;
	}
	if (stale(s2, w2)) {
		claim(s2, a0, a1, w2 | f);
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
	claim(v, a0, a1, w2 | f);
	return v;
}

/*
 * first_hash is the hash of a key's first choice. An IPv6 key's first word
 * goes in through a multiply with the epoch (random at start), so that
 * keys cannot be chosen to collide by keeping a0 ^ a1 the same; an IPv4
 * key's is 0.
 */
static __always_inline __u64 first_hash(__u64 a0, __u64 a1, __u64 w2, bool v6)
{
	if (v6)
		a1 ^= (a0 ^ w2) * 0xC2B2AE3D27D4EB4FULL;
	return (a1 ^ w2) * 0x9E3779B97F4A7C15ULL;
}

/*
 * slow counts a packet of key (a0, a1, w2) whose first choice, slot i, is
 * not simply its own, and returns its XDP verdict.
 */
static __noinline int slow(struct xdp_md *ctx, __u64 a0, __u64 a1, __u64 w2, __u32 i)
{
	__u64 len = (void *)(long)ctx->data_end - (void *)(long)ctx->data, f, h;
	bool v6 = w2 & KEY_V6;
	__u32 verdict, base, i2;
	struct slot *s, *s2;
	struct counts *c;

	s = bpf_map_lookup_elem(&slots, &i);
	if (!s)
		return XDP_PASS; /* i is in the table: not reached */
	if (!holds(s, a0, a1, w2)) {
		/* The second choice: the first's hash, mixed again. */
		h = first_hash(a0, a1, w2, v6);
		h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ULL;
		i2 = (i >> targ_slot_bits << targ_slot_bits) + (__u32)(h >> targ_slot_shift);
		s2 = bpf_map_lookup_elem(&slots, &i2);
		if (!s2)
			return XDP_PASS; /* i2 is in the table: not reached */
		if (holds(s2, a0, a1, w2)) {
			s = s2;
		} else {
			/* The key's verdict, for the slot it claims (or this packet). */
			f = kept(ctx, a0, a1, v6);
			s = take(s, s2, i, a0, a1, w2, f);
			goto judge;
		}
	}
	f = (__u64)s->key.flags << 8 & KEPT;
judge:
	verdict = IPCOUNT_PASS;
	if (f & ((__u64)IPCOUNT_KEY_LISTED << 8))
		verdict = IPCOUNT_DROP_LIST;
	else if (f & ((__u64)IPCOUNT_KEY_LOOKUP << 8))
		verdict = on_list(ctx, a0, a1, v6);
	if (verdict == IPCOUNT_PASS && (f & ((__u64)IPCOUNT_KEY_RATE << 8)) && over_rate(a0, a1, w2))
		verdict = IPCOUNT_DROP_RATE;

	if (s) {
		c = &s->c[verdict];
		c->packets++;
		c->bytes += len;
	} else {
		base = (i >> targ_slot_bits) * IPCOUNT_NR_TOTALS;
		add(base + IPCOUNT_UNTRACKED, 1, len);
		add(base + v6 * 3 + verdict, 1, len);
	}
	if (verdict != IPCOUNT_PASS && !targ_dry_run)
		return XDP_DROP;
	return XDP_PASS;
}

/*
 * count counts a packet of key (a0, a1, w2) of a frame of len bytes and
 * returns its XDP verdict: the short path. Inlined once per family and
 * header layout, so that an IPv4 key's zero first word costs nothing. The
 * values it keeps across the lookup fit the four registers a call keeps:
 * IPv4 the context, two key words and the length; IPv6 the context and
 * three key words, and it reads the length again.
 */
static __always_inline int count(struct xdp_md *ctx, __u64 a0, __u64 a1, __u64 w2, __u64 len, bool v6)
{
	__u64 n = now, *k, h;
	struct slot *s;
	__u32 i;

	if (!v6)
		asm volatile("" : "+r"(len)); /* now, not from the packet pointers after the lookup */
	/* The key's first choice; Fibonacci hashing, seeded by the epoch. */
	w2 |= n << 32;
	h = first_hash(a0, a1, w2, v6);
	i = (n >> 32) + (__u32)(h >> targ_slot_shift);
	s = bpf_map_lookup_elem(&slots, &i);
	if (likely(s != NULL)) {
		k = (__u64 *)s->key.addr;
		if (likely(k[1] == a1 && k[2] == w2 && (!v6 || k[0] == a0))) {
			if (v6)
				len = (void *)(long)ctx->data_end - (void *)(long)ctx->data;
			s->c[IPCOUNT_PASS].packets++;
			s->c[IPCOUNT_PASS].bytes += len;
			return XDP_PASS;
		}
	}
	return slow(ctx, a0, a1, w2, i);
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

/*
 * The short path is laid out straight. The BPF backend (clang 14) places
 * blocks in source order and cannot invert a branch, so every test below
 * has the common case in its then-branch: a frame of the common kinds takes
 * no jump until its count, and the rest comes after it, out of the way.
 */

/* v4_key returns the key's words for an IPv4 packet whose header is at
 * off and its payload at l4, or -1 in w2 if the frame is too short for
 * --by's ports. */
static __always_inline __u64 v4_key(void *data, void *end, __u32 off, __u32 l4, bool keyed, long *w2)
{
	struct iphdr *ip = data + off;
	__u64 a1;

	/* The address in bytes 12 to 15 (a little-endian word's high half). */
	a1 = (__u64)ip->saddr << 32;
	*w2 = 0;
	if (keyed) {
		a1 &= targ_mask4;
		/* Ports only in a datagram's first fragment. */
		if (targ_by)
			*w2 = ports_of(data, end, l4, ip->protocol, !(ip->frag_off & bpf_htons(0x1fff)));
	}
	return a1;
}

/* v4_options counts an IPv4 packet with options, or malformed, whose
 * header is at off (an Ethernet header and 0 to 2 VLAN tags). */
static __noinline int v4_options(struct xdp_md *ctx, __u32 off)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct iphdr *ip;
	__u32 l4;
	__u64 a1;
	long w2;
	__u8 vihl;

	off &= 0x1f;
	ip = data + off;
	if ((void *)(ip + 1) > end)
		return other(ctx, IPCOUNT_MALFORMED);
	vihl = *(__u8 *)ip;
	/* Version 4 and a header of 6 to 15 words: options, whole. */
	if ((__u8)(vihl - 0x46) > 0x09)
		return other(ctx, IPCOUNT_MALFORMED);
	l4 = off + (vihl & 0x0f) * 4;
	if (data + l4 > end)
		return other(ctx, IPCOUNT_MALFORMED);
	a1 = v4_key(data, end, off, l4, targ_keys != 0, &w2);
	if (w2 < 0)
		return other(ctx, IPCOUNT_MALFORMED);
	return count(ctx, 0, a1, w2, end - data, false);
}

/* v4 counts an IPv4 packet whose header is at off. */
static __always_inline int v4(struct xdp_md *ctx, void *data, void *end, __u32 off, bool keyed)
{
	struct iphdr *ip = data + off;
	__u64 a1;
	long w2;

	if (likely((void *)(ip + 1) <= end)) {
		/* Version 4, a header of 5 words: no options. */
		if (likely(*(__u8 *)ip == 0x45)) {
			a1 = v4_key(data, end, off, off + sizeof(*ip), keyed, &w2);
			if (likely(w2 >= 0))
				return count(ctx, 0, a1, w2, end - data, false);
			return other(ctx, IPCOUNT_MALFORMED);
		}
		return v4_options(ctx, off);
	}
	return other(ctx, IPCOUNT_MALFORMED);
}

/* v6_ports returns the key's third word for --by of an IPv6 packet whose
 * extension headers start at off with type l4, or -1 if the frame is too
 * short for them. */
static __always_inline long v6_ports(void *data, void *end, __u32 off, __u8 l4)
{
	bool ports = true;
	__u32 i;
	__u8 *p;

	/* Extension headers: 6 at most (hop-by-hop, destination options
	 * twice, routing, fragment, authentication: every kind RFC 8200
	 * orders before the upper layer). */
	for (i = 0; i < 6; i++) {
		if (l4 != 0 && l4 != 43 && l4 != 44 && l4 != 51 && l4 != 60)
			break;
		p = data + (off & 0x3fff);
		if ((void *)(p + 8) > end)
			return -1;
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
	return ports_of(data, end, off, l4, ports);
}

/* v6 counts an IPv6 packet whose header is at off. */
static __always_inline int v6(struct xdp_md *ctx, void *data, void *end, __u32 off, bool keyed)
{
	struct ipv6hdr *ip6 = data + off;
	__u64 a0, a1, *a;
	long w2;

	if (likely((void *)(ip6 + 1) <= end && ip6->version == 6)) {
		/* Packets are not aligned; XDP's targets load unaligned words. */
		a = data + off + offsetof(struct ipv6hdr, saddr);
		a0 = a[0];
		a1 = a[1];
		w2 = 0;
		if (keyed) {
			a0 &= targ_mask6_0;
			a1 &= targ_mask6_1;
			if (targ_by)
				w2 = v6_ports(data, end, off + sizeof(*ip6), ip6->nexthdr);
		}
		if (likely(w2 >= 0))
			return count(ctx, a0, a1, w2 | KEY_V6, end - data, true);
	}
	return other(ctx, IPCOUNT_MALFORMED);
}

/* is_vlan: an 802.1ad or 802.1Q tag (802.1Q's test is the last, so that
 * its frames run straight on). */
static __always_inline bool is_vlan(__u16 proto)
{
	return proto == bpf_htons(ETH_P_8021AD) || proto == bpf_htons(ETH_P_8021Q);
}

/*
 * short_frame counts a frame too short for an Ethernet and an IPv4 header:
 * malformed if it says it is IP (or its VLAN tags are cut), else non-IP.
 */
static __noinline int short_frame(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 off = sizeof(struct ethhdr), i;
	struct vlan_hdr *vlan;
	__u16 proto;

	if (data + sizeof(struct ethhdr) > end)
		return other(ctx, IPCOUNT_MALFORMED);
	proto = ((struct ethhdr *)data)->h_proto;
	for (i = 0; i < 2; i++) {
		if (!is_vlan(proto))
			break;
		vlan = data + off;
		if ((void *)(vlan + 1) > end)
			return other(ctx, IPCOUNT_MALFORMED);
		proto = vlan->h_vlan_encapsulated_proto;
		off += sizeof(*vlan);
	}
	if (proto == bpf_htons(ETH_P_IP) || proto == bpf_htons(ETH_P_IPV6))
		return other(ctx, IPCOUNT_MALFORMED);
	return other(ctx, IPCOUNT_NON_IP);
}

/* opaque hides x's value from the compiler, so that tests of it stay
 * separate (in source order) instead of becoming a switch laid out its
 * own way. */
#define opaque(x) asm volatile("" : "+r"(x))

/* tagged counts a frame whose Ethernet header is followed by a VLAN tag
 * (and maybe a second one: QinQ). */
static __always_inline int tagged(struct xdp_md *ctx, void *data, void *end, bool keyed)
{
	struct vlan_hdr *tag = data + sizeof(struct ethhdr);
	/* Within the Ethernet and IPv4 headers' length: tested. */
	__u64 proto = tag[0].h_vlan_encapsulated_proto;

	if (likely(proto == bpf_htons(ETH_P_IP)))
		return v4(ctx, data, end, sizeof(struct ethhdr) + sizeof(*tag), keyed);
	opaque(proto);
	if (proto == bpf_htons(ETH_P_IPV6))
		return v6(ctx, data, end, sizeof(struct ethhdr) + sizeof(*tag), keyed);
	opaque(proto);
	if (is_vlan(proto)) {
		proto = tag[1].h_vlan_encapsulated_proto;
		if (proto == bpf_htons(ETH_P_IP))
			return v4(ctx, data, end, sizeof(struct ethhdr) + 2 * sizeof(*tag), keyed);
		opaque(proto);
		if (proto == bpf_htons(ETH_P_IPV6))
			return v6(ctx, data, end, sizeof(struct ethhdr) + 2 * sizeof(*tag), keyed);
	}
	return other(ctx, IPCOUNT_NON_IP);
}

/* tagged_ad is tagged for an 802.1ad outer tag: rare, out of line. */
static __noinline int tagged_ad(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (likely(data + sizeof(struct ethhdr) + sizeof(struct iphdr) <= end))
		return tagged(ctx, data, end, targ_keys != 0);
	return other(ctx, IPCOUNT_MALFORMED); /* not reached: ipcount() tested */
}

/*
 * parse counts a frame of at least an Ethernet and an IPv4 header's length
 * (which the caller tested): IPv4 first, then 802.1Q, IPv6, 802.1ad. Each
 * of at most two tags (an 802.1ad outer and an 802.1Q inner, QinQ) has its
 * own copy of the tests, so that every header is at a constant offset.
 * keyed: keys are more than the source address (--prefix4/6, --by).
 */
static __always_inline int parse(struct xdp_md *ctx, void *data, void *end, bool keyed)
{
	__u64 proto = ((struct ethhdr *)data)->h_proto;

	if (likely(proto == bpf_htons(ETH_P_IP)))
		return v4(ctx, data, end, sizeof(struct ethhdr), keyed);
	opaque(proto);
	if (likely(proto == bpf_htons(ETH_P_8021Q)))
		return tagged(ctx, data, end, keyed);
	opaque(proto);
	if (likely(proto == bpf_htons(ETH_P_IPV6)))
		return v6(ctx, data, end, sizeof(struct ethhdr), keyed);
	opaque(proto);
	if (proto == bpf_htons(ETH_P_8021AD))
		return tagged_ad(ctx);
	return other(ctx, IPCOUNT_NON_IP);
}

/* parse_keyed is parse for keys cut to a prefix or broken down by port: a
 * copy of its own, so that the short path has none of it. */
static __noinline int parse_keyed(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (likely(data + sizeof(struct ethhdr) + sizeof(struct iphdr) <= end))
		return parse(ctx, data, end, true);
	return other(ctx, IPCOUNT_MALFORMED); /* not reached: ipcount() tested */
}

SEC("xdp")
int ipcount(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	/* One bounds test covers an untagged IPv4 header. */
	if (likely(data + sizeof(struct ethhdr) + sizeof(struct iphdr) <= end)) {
		/* The verifier drops the test and the other branch. */
		if (likely(!targ_keys))
			return parse(ctx, data, end, false);
		return parse_keyed(ctx);
	}
	return short_frame(ctx);
}

/* Makes the enums of ipcount.h part of the object's BTF, for bpf2go -type:
 * tools/ipcount takes the indexes and flags from there. */
const enum ipcount_total *unused_total __attribute__((unused));
const enum ipcount_verdict *unused_verdict __attribute__((unused));
const enum ipcount_key_flag *unused_key_flag __attribute__((unused));
const enum ipcount_lpm_family *unused_lpm_family __attribute__((unused));

char LICENSE[] SEC("license") = "GPL";
