package killsnoop

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -type event -type killsnoop_syscall killsnoop ../../bpf/killsnoop.bpf.c -- -I../../bpf/include -I../../bpf
