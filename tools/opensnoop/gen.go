package opensnoop

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target amd64,arm64 -no-global-types -type event opensnoop ../../bpf/opensnoop.bpf.c -- -I../../bpf/include -I../../bpf
