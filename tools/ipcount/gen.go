package ipcount

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -type source -type counts -type slot ipcount ../../bpf/ipcount.bpf.c -- -I../../bpf/include -I../../bpf
