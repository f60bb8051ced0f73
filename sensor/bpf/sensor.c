// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sensor.c: Kestrel's kernel side. Each program fills one fixed-size record
 * in the ring buffer `events` and submits it; user space (sensor/record.go,
 * build.go) decodes the records by the layouts below, which
 * sensor/layout_linux_test.go checks against bpf2go's generated Go types. When the ring buffer is full
 * the record is lost and counted in `drops` (per CPU), never silently.
 *
 * Process identity is (tgid, group leader's start_boottime): the same
 * clock /proc/PID/stat's starttime is derived from, so processes seeded
 * from /proc and processes seen here get the same entity keys.
 */
#include "kestrel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FILENAME_SIZE 256
#define ARGS_SIZE 4096 /* a power of two: reads are bounded by masking */
#define CWD_SIZE 1024  /* a power of two, at most ARGS_SIZE (see read_cwd) */
#define CWD_DEPTH 64   /* path components and mount crossings read */
#define PATH_SIZE 256

/* exec_event.flags */
#define EXEC_ARGS_TRUNCATED 1 /* the argument area was longer than ARGS_SIZE */
#define EXEC_CWD_TRUNCATED 2  /* the directory's path did not fit CWD_SIZE or CWD_DEPTH */

enum kind {
	KIND_EXEC = 1,
	KIND_FORK = 2,
	KIND_EXIT = 3,
	KIND_OPEN = 4,
	KIND_UNLINK = 5,
	KIND_RENAME = 6,
	KIND_CONNECT = 7,
	KIND_ACCEPT = 8,
};

/* hdr starts every record. pid is the process (tgid), tid the thread. */
struct hdr {
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u64 ts;     /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u64 start;  /* the process's start_boottime, ns */
	__u64 pstart; /* the parent's start_boottime, ns */
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 pad;
	char comm[16];
};

struct exec_event {
	struct hdr h;
	__u32 argc;     /* bprm->argc: all arguments, even past ARGS_SIZE */
	__u32 args_len; /* bytes of args read: NUL-separated */
	__u32 cwd_off;  /* the working directory is cwd[cwd_off:CWD_SIZE] */
	__u32 flags;    /* EXEC_* */
	char filename[FILENAME_SIZE];
	/* cwd is built backwards from its end; args follows it, so that the
	 * masked writes of read_cwd stay inside the record. */
	char cwd[CWD_SIZE];
	char args[ARGS_SIZE];
};

struct exit_event {
	struct hdr h;
	__s32 code; /* task->exit_code: status<<8 | signal */
	__u32 pad;
};

struct file_event {
	struct hdr h;
	__u32 flags;
	__u32 mode;
	char path[PATH_SIZE];
	char path2[PATH_SIZE]; /* rename's new path */
};

struct net_event {
	struct hdr h;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 ok; /* 1 established, 0 failed */
	__u8 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Unused instances make clang keep the types in BTF for bpf2go -type. */
const struct exec_event *unused_exec __attribute__((unused));
const struct exit_event *unused_exit __attribute__((unused));
const struct file_event *unused_file __attribute__((unused));
const struct net_event *unused_net __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* drops[0]: records lost because the ring buffer was full, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* connecting: the connecting process of a socket in SYN_SENT, keyed by the
 * socket, until it is established or fails (in softirq, where current is
 * not that process). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct hdr);
} connecting SEC(".maps");

/* batch_wakeup, set by the loader: 0 wakes the reader for each record (the
 * kernel's default: when it has caught up); 1 submits without waking it
 * until WAKEUP_BYTES are waiting, and the reader wakes by itself every few
 * milliseconds instead (Config.MaxDelay): one wakeup per batch, not per
 * event, at the price of that delay. */
volatile const __u32 batch_wakeup = 0;

#define WAKEUP_BYTES (1 << 20)

static __always_inline __u64 wake_flags(void)
{
	if (!batch_wakeup)
		return 0;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void count_drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		*n += 1;
}

static __always_inline void fill_hdr(struct hdr *h, struct task_struct *t, __u32 kind)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	struct task_struct *parent = BPF_CORE_READ(t, real_parent);
	h->kind = kind;
	h->pid = BPF_CORE_READ(t, tgid);
	h->tid = BPF_CORE_READ(t, pid);
	h->ppid = BPF_CORE_READ(parent, tgid);
	h->ts = bpf_ktime_get_ns();
	h->start = BPF_CORE_READ(leader, start_boottime);
	h->pstart = BPF_CORE_READ(parent, group_leader, start_boottime);
	h->uid = BPF_CORE_READ(t, cred, uid.val);
	h->euid = BPF_CORE_READ(t, cred, euid.val);
	h->gid = BPF_CORE_READ(t, cred, gid.val);
	h->pad = 0;
	BPF_CORE_READ_STR_INTO(&h->comm, t, comm);
}

/* reserve takes size bytes of the ring buffer for a record of kind about
 * task t, whose struct starts with its hdr, and fills the header; NULL when
 * the buffer is full, the loss counted. */
static __always_inline void *reserve(__u64 size, struct task_struct *t, __u32 kind)
{
	struct hdr *h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		count_drop();
		return 0;
	}
	fill_hdr(h, t, kind);
	return h;
}

/*
 * read_cwd writes the path of t's working directory at the end of e->cwd
 * and sets e->cwd_off where it starts, as the kernel's d_path does: from
 * the directory up through its parents to the process's root, crossing
 * mount points by the mount tree, for at most CWD_DEPTH steps. A path that
 * does not fit sets EXEC_CWD_TRUNCATED and keeps its last components.
 *
 * For the verifier: offsets are masked, and the checks before each write
 * keep them exact (a masked write past cwd would land in args, inside the
 * record, which is filled after). The position lives in e->cwd_off, not in
 * a register, between steps: read back from the record it is an unknown
 * number, so the states of the two paths through a step (a component, a
 * mount crossing) are the same and the verifier explores one, not 2^depth.
 */
static __always_inline void read_cwd(struct exec_event *e, struct task_struct *t)
{
	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	struct dentry *root = BPF_CORE_READ(fs, root.dentry);
	struct vfsmount *rootmnt = BPF_CORE_READ(fs, root.mnt);
	struct dentry *d = BPF_CORE_READ(fs, pwd.dentry);
	struct vfsmount *vm = BPF_CORE_READ(fs, pwd.mnt);
	struct mount *m = (struct mount *)((void *)vm - bpf_core_field_offset(struct mount, mnt));
	struct dentry *mroot = BPF_CORE_READ(vm, mnt_root);

	e->cwd_off = CWD_SIZE;
	for (int i = 0; i < CWD_DEPTH; i++) {
		if (d == root && vm == rootmnt)
			goto done;
		if (d == mroot) {
			/* The top of this mount: continue from where it is mounted. */
			struct mount *parent = BPF_CORE_READ(m, mnt_parent);
			if (parent == m) /* the namespace's root */
				goto done;
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = parent;
			vm = (struct vfsmount *)((void *)parent + bpf_core_field_offset(struct mount, mnt));
			mroot = BPF_CORE_READ(vm, mnt_root);
			continue;
		}
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		if (parent == d) /* the top of a detached tree */
			goto done;
		__u32 len = BPF_CORE_READ(d, d_name.len);
		const unsigned char *name = BPF_CORE_READ(d, d_name.name);
		__u32 pos = e->cwd_off;
		if (pos > CWD_SIZE || len >= pos) { /* no room for the name and its slash */
			e->flags |= EXEC_CWD_TRUNCATED;
			return;
		}
		pos -= len;
		if (bpf_probe_read_kernel(&e->cwd[pos & (CWD_SIZE - 1)], len & (CWD_SIZE - 1), name) < 0) {
			e->flags |= EXEC_CWD_TRUNCATED;
			return;
		}
		pos -= 1;
		e->cwd[pos & (CWD_SIZE - 1)] = '/';
		e->cwd_off = pos;
		d = parent;
	}
	e->flags |= EXEC_CWD_TRUNCATED; /* deeper than CWD_DEPTH */
	return;
done:
	if (e->cwd_off == CWD_SIZE) { /* the root itself */
		e->cwd[CWD_SIZE - 1] = '/';
		e->cwd_off = CWD_SIZE - 1;
	}
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct exec_event *e = reserve(sizeof(*e), p, KIND_EXEC);
	if (!e)
		return 0;
	e->argc = BPF_CORE_READ(bprm, argc);
	e->flags = 0;
	const char *fn = BPF_CORE_READ(bprm, filename);
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), fn) < 0)
		e->filename[0] = 0;

	read_cwd(e, p);

	/* The new image's arguments: one NUL-separated block on its stack. */
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	unsigned long n = end - start;
	if (end <= start)
		n = 0;
	if (n > ARGS_SIZE) {
		n = ARGS_SIZE;
		e->flags |= EXEC_ARGS_TRUNCATED;
	}
	e->args_len = 0;
	if (n > 0 && bpf_probe_read_user(e->args, n & (2 * ARGS_SIZE - 1), (const void *)start) == 0)
		e->args_len = n;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	/* A new thread is not a new process. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	struct hdr *h = reserve(sizeof(*h), child, KIND_FORK);
	if (!h)
		return 0;
	bpf_ringbuf_submit(h, wake_flags());
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	/* One event per process: when its main thread exits. */
	if (BPF_CORE_READ(p, pid) != BPF_CORE_READ(p, tgid))
		return 0;
	struct exit_event *e = reserve(sizeof(*e), p, KIND_EXIT);
	if (!e)
		return 0;
	e->code = BPF_CORE_READ(p, exit_code);
	e->pad = 0;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

static __always_inline int emit_file(__u32 kind, const char *path, const char *path2, __u32 flags, __u32 mode)
{
	struct file_event *e = reserve(sizeof(*e), (struct task_struct *)bpf_get_current_task_btf(), kind);
	if (!e)
		return 0;
	e->flags = flags;
	e->mode = mode;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), path) < 0)
		e->path[0] = 0;
	e->path2[0] = 0;
	if (path2 && bpf_probe_read_user_str(e->path2, sizeof(e->path2), path2) < 0)
		e->path2[0] = 0;
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/* File syscalls at entry: the path as the process passed it. */
SEC("tracepoint/syscalls/sys_enter_openat")
int handle_openat(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_OPEN, (const char *)ctx->args[1], 0, ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_open")
int handle_open(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_OPEN, (const char *)ctx->args[0], 0, ctx->args[1], ctx->args[2]);
}

/* creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode). */
SEC("tracepoint/syscalls/sys_enter_creat")
int handle_creat(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_OPEN, (const char *)ctx->args[0], 0, 0100 | 01 | 01000, ctx->args[1]);
}

/* openat2(dfd, path, how, size): flags and mode are in the user's open_how. */
SEC("tracepoint/syscalls/sys_enter_openat2")
int handle_openat2(struct sys_enter_ctx *ctx)
{
	struct open_how how = {};
	if (bpf_probe_read_user(&how, sizeof(how), (const void *)ctx->args[2]) < 0)
		how.flags = how.mode = 0;
	return emit_file(KIND_OPEN, (const char *)ctx->args[1], 0, how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int handle_unlinkat(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_UNLINK, (const char *)ctx->args[1], 0, ctx->args[2], 0);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int handle_unlink(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_UNLINK, (const char *)ctx->args[0], 0, 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int handle_renameat2(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_RENAME, (const char *)ctx->args[1], (const char *)ctx->args[3], ctx->args[4], 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int handle_renameat(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_RENAME, (const char *)ctx->args[1], (const char *)ctx->args[3], 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int handle_rename(struct sys_enter_ctx *ctx)
{
	return emit_file(KIND_RENAME, (const char *)ctx->args[0], (const char *)ctx->args[1], 0, 0);
}

static __always_inline void fill_tuple(struct net_event *e, struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->family = family;
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == 2 /* AF_INET */) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)e->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)e->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

/* Outbound TCP: remember the process at SYN_SENT (its context, but no local
 * port yet); emit when the handshake ends, with the whole 4-tuple. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_sock_state, struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u64 key = (__u64)sk;
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
		struct hdr h = {};
		fill_hdr(&h, (struct task_struct *)bpf_get_current_task_btf(), KIND_CONNECT);
		bpf_map_update_elem(&connecting, &key, &h, BPF_ANY);
		return 0;
	}
	if (oldstate != TCP_SYN_SENT)
		return 0;
	struct hdr *h = bpf_map_lookup_elem(&connecting, &key);
	if (!h)
		return 0;
	struct net_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop();
		bpf_map_delete_elem(&connecting, &key);
		return 0;
	}
	__builtin_memcpy(&e->h, h, sizeof(*h));
	bpf_map_delete_elem(&connecting, &key);
	e->h.ts = bpf_ktime_get_ns();
	e->ok = newstate == TCP_ESTABLISHED;
	e->pad = 0;
	fill_tuple(e, sk);
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

/*
 * Inbound TCP: at the return of accept and accept4, in the accepting
 * process's context, the new descriptor's socket is looked up in its file
 * table (fd -> file -> socket -> sock). The handshake ended before accept
 * returned, so the 4-tuple is whole. (An fexit on inet_csk_accept would be
 * shorter, but some kernels and sandboxes refuse function tracing; the
 * sock:inet_sock_set_state tracepoint sees the handshake end in softirq,
 * where the current process is not the one that accepts.)
 */
static __always_inline int emit_accept(long fd)
{
	if (fd < 0)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if ((unsigned long)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) < 0 || !f)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	struct net_event *e = reserve(sizeof(*e), t, KIND_ACCEPT);
	if (!e)
		return 0;
	e->ok = 1;
	e->pad = 0;
	fill_tuple(e, sk);
	bpf_ringbuf_submit(e, wake_flags());
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_accept4(struct sys_exit_ctx *ctx)
{
	return emit_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_accept(struct sys_exit_ctx *ctx)
{
	return emit_accept(ctx->ret);
}
