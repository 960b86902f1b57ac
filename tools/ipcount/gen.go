package ipcount

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -type src_key -type slot -type counts -type lpm_key ipcount ../../bpf/ipcount.bpf.c -- -I../../bpf/include -I../../bpf
