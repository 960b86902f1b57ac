package main

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror" -target bpfel -no-global-types floor ../../bpf/floor.bpf.c -- -I../../bpf/include -I../../bpf
