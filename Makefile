# ebtools: build, generate the BPF objects, test.
#
#   make             build ./ebtools, a static binary
#   make run ARGS="execsnoop -x"   run ./ebtools ARGS as root
#   make test        run every test (the privileged ones as root)
#   make generate    rebuild every *_bpfel.{go,o} from its .bpf.c (needs clang-14, llvm-14, libbpf-dev)
#   make check-generated   regenerate and fail if the committed objects differ
#   make check-static      fail unless `make build` gives a static binary
#   make test-kernels      the tests on three more kernels (Debian amd64 6.1, arm64 6.1, amd64 6.12; qemu; as root)
#   make bench             cost and losses next to libbpf-tools (as root)
#
# What needs root runs through sudo unless make already runs as root.

GO      ?= go
BPFTOOL ?= bpftool
# BIN is where `make build` puts the binary.
BIN     ?= ebtools

# What runs as root through sudo gets this toolchain, module cache and test settings
# (sudo resets the environment).
ROOTENV := env PATH=$(PATH) GOMODCACHE=$(shell $(GO) env GOMODCACHE) GOTOOLCHAIN=local CGO_ENABLED=0 \
	EBTOOLS_REQUIRE_PRIVILEGED=$(EBTOOLS_REQUIRE_PRIVILEGED) EBTOOLS_TEST_SLOWDOWN=$(EBTOOLS_TEST_SLOWDOWN) \
	EBTOOLS_TEST_PACE=$(EBTOOLS_TEST_PACE)
ifeq ($(shell id -u),0)
ASROOT :=
TESTEXEC :=
else
ASROOT := sudo $(ROOTENV)
# Test binaries are built as the user and run as root.
TESTEXEC := -exec '$(ASROOT)'
endif

.PHONY: all build run generate check-generated check-nocgo check-static vmlinux test test-kernels microbench bench lint clean

all: build

# CGO_ENABLED=0: net and os/user would otherwise link against the C
# library, and the binary would need the build machine's glibc.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/ebtools

run: build
	$(ASROOT) ./$(BIN) $(ARGS)

generate:
	$(GO) generate ./...

# The committed objects must be what `make generate` produces from the sources.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- ':(glob)**/*_bpfel*')" ]; then \
		git status --short -- ':(glob)**/*_bpfel*'; \
		echo "check-generated: generated BPF files differ from the committed ones: run make generate and commit"; \
		exit 1; \
	fi
	@echo "check-generated: generated files match"

# go build and go install need no C toolchain: build with only Go on PATH.
check-nocgo:
	env PATH="$$(dirname "$$(command -v $(GO))")" CGO_ENABLED=0 $(GO) build -buildvcs=false ./...
	env PATH="$$(dirname "$$(command -v $(GO))")" CGO_ENABLED=0 GOARCH=arm64 $(GO) build -buildvcs=false -o /dev/null ./cmd/ebtools
	@echo "check-nocgo: builds without clang or cgo (amd64 and arm64)"

# The binary `make build` gives must be static: no ELF interpreter, no
# shared libraries.
check-static:
	$(MAKE) build BIN=ebtools.static-check
	@if readelf -lW ebtools.static-check | grep -q 'INTERP' || readelf -dW ebtools.static-check | grep -q 'NEEDED'; then \
		file ebtools.static-check; rm -f ebtools.static-check; \
		echo "check-static: make build gives a dynamically linked binary"; exit 1; \
	fi
	@file ebtools.static-check; rm -f ebtools.static-check
	@echo "check-static: statically linked"

# vmlinux.h is pinned: regenerate it only on purpose, from this machine's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/include/vmlinux.h

# The README's test command. Privileged tests skip for non-root users unless
# EBTOOLS_REQUIRE_PRIVILEGED=1 (CI), which turns a skip into a failure.
test:
	$(GO) test -count=1 $(TESTEXEC) ./...

# The test suite again on Debian's amd64 6.1, arm64 6.1 and amd64 6.12 cloud
# kernels under qemu (as root); KERNELTEST_KERNELS="arm64-6.1" picks some.
test-kernels:
	$(ASROOT) bash internal/kerneltest/run.sh

microbench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above are not formatted"; exit 1; }
	$(GO) vet ./...

clean:
	rm -f $(BIN)

# Cost and loss of each tool next to libbpf-tools and bpftrace (as root).
bench:
	$(ASROOT) $(GO) run ./internal/bench -rounds 3 -out results
