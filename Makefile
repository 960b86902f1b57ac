# ebtools: build, generate the BPF objects, test.
#
#   make             build ./ebtools
#   sudo make test   run every test (the privileged ones need root)
#   make generate    rebuild every *_bpfel.{go,o} from its .bpf.c (needs clang-14, llvm-14, libbpf-dev)
#   make check-generated   regenerate and fail if the committed objects differ
#   sudo make test-kernels the tests on three more kernels (Debian amd64 6.1, arm64 6.1, amd64 6.12; qemu)
#   sudo make bench        cost and losses next to libbpf-tools

GO      ?= go
BPFTOOL ?= bpftool

.PHONY: all build generate check-generated check-nocgo vmlinux test test-kernels microbench bench lint clean

all: build

build:
	$(GO) build -o ebtools ./cmd/ebtools

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

# vmlinux.h is pinned: regenerate it only on purpose, from this machine's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/include/vmlinux.h

# The README's test command. Privileged tests skip for non-root users unless
# EBTOOLS_REQUIRE_PRIVILEGED=1 (CI), which turns a skip into a failure.
test:
	$(GO) test -count=1 ./...

# The test suite again on Debian's amd64 6.1, arm64 6.1 and amd64 6.12 cloud
# kernels under qemu (as root); KERNELTEST_KERNELS="arm64-6.1" picks some.
test-kernels:
	bash internal/kerneltest/run.sh

microbench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above are not formatted"; exit 1; }
	$(GO) vet ./...

clean:
	rm -f ebtools

# Cost and loss of each tool next to libbpf-tools and bpftrace (as root).
bench:
	$(GO) run ./internal/bench -rounds 3 -out results
