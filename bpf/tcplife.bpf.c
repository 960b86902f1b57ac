// SPDX-License-Identifier: GPL-2.0
/*
 * tcplife: one event per TCP session, when it closes, with its lifespan and
 * the bytes it moved. The hook is the sock:inet_sock_set_state tracepoint,
 * as tp_btf where the kernel has it, else the classic tracepoint; fentry on
 * tcp_set_state is the last resort (it needs no per-architecture register
 * layout, unlike a kprobe, so one object serves every architecture).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
/* One event of at most ~450 bytes per session: 256 KiB holds hundreds. */
#define EBT_RINGBUF_SIZE (256 * 1024)
#include "ebtools.bpf.h"
#include "tcplife.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* Kernel TCP states (include/net/tcp_states.h). */
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9
#define TCP_CLOSING 11

const volatile __u16 targ_family = 0; /* 0: both */
const volatile bool targ_lports = false;
const volatile bool targ_rports = false;

/* -L and -D: the ports to keep, filled by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} lports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} rports SEC(".maps");

struct birth {
	__u64 ts;
	bool active; /* opened with connect(): our SYN counts in bytes_acked */
};

/* Birth by socket. LRU, so a connection flood evicts old entries instead
 * of making new sessions untraceable; evictions are counted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct birth);
} birth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPLIFE_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} birth_stats SEC(".maps");

/*
 * Who used the socket, recorded where a process is surely running
 * (connect, close, shutdown): the session ends later, often in softirq.
 * The task filters are applied then too.
 */
struct ident {
	struct ebt_task task;
	struct ebt_ancestor ancestors[EBT_ANCESTORS];
	bool allowed;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ident);
} idents SEC(".maps");

/* The event under construction, with room for the ancestors. */
struct record {
	struct event e;
	struct ebt_ancestor ancestors[EBT_ANCESTORS];
};

/* Slot 0: an ident being recorded; slot 1: a record being sent. */
union scratch {
	struct ident id;
	struct record r;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, union scratch);
} heap SEC(".maps");

/* What every flavour of the hook knows about the state change. */
struct change {
	__u64 sk;
	int oldstate;
	int newstate;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

static __always_inline void count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&birth_stats, &stat);

	if (n)
		(*n)++;
}

static __always_inline bool trace_allowed(struct change *c)
{
	if (targ_family && c->family != targ_family)
		return false;
	if (targ_lports && !bpf_map_lookup_elem(&lports, &c->lport))
		return false;
	if (targ_rports && !bpf_map_lookup_elem(&rports, &c->rport))
		return false;
	return true;
}

/*
 * payload sets the bytes the application sent and received. bytes_acked and
 * bytes_received count sequence space, in which SYN and FIN take one each:
 * those are taken back out, so the counts are exact payload bytes.
 */
static __always_inline void payload(struct event *e, struct tcp_sock *tp, int oldstate, bool active)
{
	__u64 tx = BPF_CORE_READ(tp, bytes_acked), rx = BPF_CORE_READ(tp, bytes_received);
	unsigned long flags = BPF_CORE_READ(&tp->inet_conn.icsk_inet.sk, __sk_common.skc_flags);

	/* Our SYN is acked in bytes_acked only when we connected. */
	if (active && tx > 0)
		tx--;
	/* Our FIN went out in these states; it counts once acked. */
	if ((oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING ||
	     oldstate == TCP_LAST_ACK) &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq) && tx > 0)
		tx--;
	/* tcp_fin() marks the socket SOCK_DONE when the peer's FIN arrives. */
	if ((flags & (1UL << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) && rx > 0)
		rx--;
	e->tx_bytes = tx;
	e->rx_bytes = rx;
}

/* remember records, in idents, the process using sk now. */
static __always_inline void remember(__u64 sk)
{
	__u32 zero = 0;
	struct ident *id = bpf_map_lookup_elem(&heap, &zero);

	if (!id)
		return;
	id->allowed = ebt_task_allowed();
	ebt_task_fill(&id->task);
	if (ebt_lineage) {
		id->task.nr_ancestors = ebt_current_ancestors(id->ancestors);
		id->task.ancestors_off = __builtin_offsetof(struct record, ancestors);
	}
	bpf_map_update_elem(&idents, &sk, id, BPF_ANY);
}

static __always_inline int handle(void *ctx, struct change *c, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct birth b, *start;
	struct ident *who = NULL;
	struct record *r;
	__u32 one = 1, size = sizeof(struct event);
	__u64 ts;

	if (!trace_allowed(c))
		return 0;

	/* Birth: the change that opens the session (CLOSE to SYN_SENT, LISTEN to
	 * SYN_RECV), not the later ones below FIN_WAIT1, so that a birth the LRU
	 * evicted is never recorded, and counted, a second time. */
	if (c->newstate < TCP_FIN_WAIT1 && c->oldstate >= TCP_FIN_WAIT1) {
		b.ts = bpf_ktime_get_ns();
		b.active = c->newstate == TCP_SYN_SENT;
		if (!bpf_map_update_elem(&birth, &c->sk, &b, BPF_NOEXIST))
			count(TCPLIFE_BIRTHS);
	}
	/* connect(), close() and shutdown() run in the process using the socket. */
	if (c->newstate == TCP_SYN_SENT || c->newstate == TCP_FIN_WAIT1 || c->newstate == TCP_LAST_ACK)
		remember(c->sk);
	if (c->newstate != TCP_CLOSE)
		return 0;

	start = bpf_map_lookup_elem(&birth, &c->sk);
	if (!start) {
		/* Born before tracing began (or evicted: counted in user space). */
		bpf_map_delete_elem(&idents, &c->sk);
		return 0;
	}
	ts = bpf_ktime_get_ns();
	b.ts = ts - start->ts;
	b.active = start->active;
	/* Counted before the birth goes: user space reads the closes after
	 * its walk of the birth map, so a session it did not find there is
	 * always among the closes it reads (tools/tcplife, evicted). */
	count(TCPLIFE_CLOSED);
	bpf_map_delete_elem(&birth, &c->sk);

	r = bpf_map_lookup_elem(&heap, &one);
	if (!r)
		goto done;
	who = bpf_map_lookup_elem(&idents, &c->sk);
	if (who) {
		if (!who->allowed)
			goto done;
		r->e.task = who->task;
		__builtin_memcpy(r->ancestors, who->ancestors, sizeof(r->ancestors));
		size += r->e.task.nr_ancestors * sizeof(struct ebt_ancestor);
	} else {
		/* No process seen: whoever runs the last change (often softirq). */
		if (!ebt_task_allowed())
			goto done;
		ebt_task_fill(&r->e.task);
	}
	r->e.task.ktime_ns = ts;
	r->e.duration_ns = b.ts;
	payload(&r->e, tp, c->oldstate, b.active);
	r->e.family = c->family;
	r->e.lport = c->lport;
	r->e.rport = c->rport;
	__builtin_memcpy(r->e.laddr, c->laddr, sizeof(r->e.laddr));
	__builtin_memcpy(r->e.raddr, c->raddr, sizeof(r->e.raddr));
	if (size > sizeof(*r))
		size = sizeof(*r);
	ebt_output(ctx, r, size);
done:
	if (who)
		bpf_map_delete_elem(&idents, &c->sk);
	return 0;
}

/* from_sock fills c from the socket itself (tp_btf and fentry). */
static __always_inline bool from_sock(struct change *c, struct sock *sk)
{
	struct inet_sock *inet = (struct inet_sock *)sk;

	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
		return false;
	c->sk = (__u64)sk;
	c->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	/* Not skc_num: TCP_CLOSE clears it (inet_put_port) before the hook runs. */
	c->lport = __builtin_bswap16(BPF_CORE_READ(inet, inet_sport));
	c->rport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (c->family == AF_INET) {
		bpf_core_read(c->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(c->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (c->family == AF_INET6) {
		bpf_core_read(c->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(c->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return false;
	}
	return true;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcplife_btf, struct sock *sk, int oldstate, int newstate)
{
	struct change c = {.oldstate = oldstate, .newstate = newstate};

	if (!from_sock(&c, sk))
		return 0;
	return handle(ctx, &c, sk);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcplife_tp(struct trace_event_raw_inet_sock_set_state *args)
{
	struct change c = {.oldstate = args->oldstate, .newstate = args->newstate};

	if (args->protocol != IPPROTO_TCP)
		return 0;
	c.sk = (__u64)args->skaddr;
	c.family = args->family;
	/* The tracepoint's ports are already in host byte order. */
	c.lport = args->sport;
	c.rport = args->dport;
	/* The verifier allows only fixed-offset loads from the context. */
	if (c.family == AF_INET) {
		bpf_probe_read_kernel(c.laddr, 4, args->saddr);
		bpf_probe_read_kernel(c.raddr, 4, args->daddr);
	} else if (c.family == AF_INET6) {
		bpf_probe_read_kernel(c.laddr, 16, args->saddr_v6);
		bpf_probe_read_kernel(c.raddr, 16, args->daddr_v6);
	} else {
		return 0;
	}
	return handle(args, &c, (struct sock *)args->skaddr);
}

SEC("fentry/tcp_set_state")
int BPF_PROG(tcplife_fentry, struct sock *sk, int state)
{
	struct change c = {.oldstate = BPF_CORE_READ(sk, __sk_common.skc_state), .newstate = state};

	if (!from_sock(&c, sk))
		return 0;
	return handle(ctx, &c, sk);
}


/* Makes enum tcplife_stat part of the object's BTF, for bpf2go -type. */
const enum tcplife_stat *unused_stat __attribute__((unused));

char LICENSE[] SEC("license") = "GPL";
