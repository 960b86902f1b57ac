package fspath

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -type ebt_path -type ebt_path_flag types ../../../bpf/types.bpf.c -- -I../../../bpf/include
