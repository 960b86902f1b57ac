package tools

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -type ebt_task -type ebt_ancestor types ../bpf/types.bpf.c -- -I../bpf/include
