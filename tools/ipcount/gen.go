package ipcount

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -type src_key -type slot -type counts -type lpm_key -type ipcount_total -type ipcount_verdict -type ipcount_key_flag -type ipcount_lpm_family ipcount ../../bpf/ipcount.bpf.c -- -I../../bpf/include -I../../bpf
