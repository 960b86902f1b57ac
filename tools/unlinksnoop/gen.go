package unlinksnoop

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types -type event -type unlinksnoop_syscall -type unlinksnoop_op -type unlinksnoop_replaced unlinksnoop ../../bpf/unlinksnoop.bpf.c -- -I../../bpf/include -I../../bpf
