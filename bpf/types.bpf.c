// SPDX-License-Identifier: GPL-2.0
/*
 * types.bpf.c: no program, only the types the tools share, from which
 * bpf2go generates their Go side: struct ebt_task for every event tool
 * (tools/types_bpfel.go), struct ebt_path and its flags for the file tools
 * (tools/internal/fspath/types_bpfel.go).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "task.h"
#include "path.h"

const struct ebt_task *unused_task __attribute__((unused));
const struct ebt_ancestor *unused_ancestor __attribute__((unused));
const struct ebt_path *unused_path __attribute__((unused));
const enum ebt_path_flag *unused_path_flag __attribute__((unused));

char LICENSE[] SEC("license") = "GPL";
