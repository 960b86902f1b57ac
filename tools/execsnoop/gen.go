package execsnoop

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -type event -type execsnoop_flag execsnoop ../../bpf/execsnoop.bpf.c -- -I../../bpf/include -I../../bpf
