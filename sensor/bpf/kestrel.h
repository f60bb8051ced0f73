/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kestrel.h: the few kernel types the sensor reads, declared by hand for
 * CO-RE instead of a generated vmlinux.h (megabytes, per kernel). Only the
 * fields used are listed; preserve_access_index makes every access a BTF
 * relocation, so the loader (cilium/ebpf) finds each field's real offset in
 * the running kernel's BTF. Anonymous structs and unions of the kernel's
 * layout (mm_struct's arg_start, sock_common's addresses) are looked up
 * through, so flat declarations here match them.
 */
#ifndef KESTREL_H
#define KESTREL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed int __s32;
typedef signed long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

typedef struct {
	uid_t val;
} kuid_t;

typedef struct {
	gid_t val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
} __attribute__((preserve_access_index));

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
} __attribute__((preserve_access_index));

struct qstr {
	__u32 len;
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct vfsmount {
	struct dentry *mnt_root;
} __attribute__((preserve_access_index));

/* The kernel's private struct mount, around each vfsmount: the mount tree. */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __attribute__((preserve_access_index));

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct fs_struct {
	struct path root;
	struct path pwd;
} __attribute__((preserve_access_index));

struct file {
	void *private_data;
} __attribute__((preserve_access_index));

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct sock;

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

struct task_struct {
	pid_t pid;
	pid_t tgid;
	int exit_code;
	__u64 start_boottime;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	const struct cred *cred;
	struct fs_struct *fs;
	struct files_struct *files;
	char comm[16];
} __attribute__((preserve_access_index));

struct linux_binprm {
	int argc;
	const char *filename;
} __attribute__((preserve_access_index));

struct in6_addr {
	__u8 s6_addr[16];
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

/* The classic tracepoint context of syscalls/sys_enter_*. */
struct sys_enter_ctx {
	__u64 common;
	long id;
	unsigned long args[6];
};

/* The classic tracepoint context of syscalls/sys_exit_*. */
struct sys_exit_ctx {
	__u64 common;
	long id;
	long ret;
};

/* openat2's argument, from user memory (a stable ABI, not CO-RE). */
struct open_how {
	__u64 flags;
	__u64 mode;
	__u64 resolve;
};

#endif
