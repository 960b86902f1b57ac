#!/usr/bin/env bash
# make test-kernels: run the test suite on three differently configured
# kernels besides the host's, each booted under qemu's software emulation
# with a busybox initramfs that holds static test binaries:
#
#   amd64-6.1    Debian 12's cloud kernel (kprobes, fentry, BTF)
#   arm64-6.1    the same kernel for arm64 (no open, unlink or rmdir
#                syscalls; its own pt_regs and syscall wrappers)
#   amd64-6.12   Debian 12's 6.12 cloud kernel (security updates)
#
# The kernels are extracted from Debian's packages, never installed on the
# host. The guest mounts proc, sys, devtmpfs and tmpfs, nothing else:
# ebtools mounts tracefs itself. The verdict comes back on the serial
# console; the run ends with one line per kernel.
#
# qemu runs the vCPUs on one host thread (tcg,thread=single): with a
# thread per vCPU, a vCPU could keep running its stale translation of
# kernel code another vCPU had just patched (the static key a syscall
# tracepoint flips when the first one is attached). On x86 (text_poke) it
# looped on the int3 forever (soft lockups in 2 of 3 full runs); on arm64,
# where the patch is a single B/NOP, a vCPU went on skipping the
# tracepoint: unlinksnoop saw nothing of an rm for 400 s while the guest
# sat idle (1 of 3 full runs; one thread costs 195-210 s per run instead
# of 164).
#
#   bash internal/kerneltest/run.sh [KERNEL...]   (as root; installs what it needs)
#
# For bisecting: KERNELTEST_KERNELS="arm64-6.1" picks kernels (default all
# three; arguments win), KERNELTEST_ONLY="<package dir name>..." runs those
# test binaries only, KERNELTEST_RUN and KERNELTEST_COUNT are its -test.run and
# -test.count, KERNELTEST_APPEND adds to the kernel command line
# (loglevel=7 shows stack traces), KERNELTEST_LOGDIR is where each serial
# console goes (KERNELTEST_LOGDIR/ebtools-kerneltest-KERNEL.log),
# KERNELTEST_TCG_THREAD=multi gives each vCPU a host thread (see above),
# KERNELTEST_SLOWDOWN fixes the guest's EBTOOLS_TEST_SLOWDOWN (else its
# calibration sets it; a small one makes a test that waits in vain fail
# sooner), KERNELTEST_TIMEOUT fixes each guest's limit (90s, 20m; else it is
# 30 minutes on amd64, 45 on arm64, times the calibration's scale), and
# KERNELTEST_BUDGET is the minutes the whole run may take (76: with the
# host suite before it, CI's 90): a guest is stopped where going on would
# leave less than 5 minutes to each guest after it, so that a hung guest
# or a slow day still leaves CI the time to print what happened.
set -euo pipefail
started=$(date +%s)
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive
here=internal/kerneltest

# seconds DURATION: 90, 90s, 20m or 1h in seconds; anything else ends the
# run.
seconds() {
	[[ $1 =~ ^([0-9]+)([smh]?)$ ]] || { echo "test-kernels: $1: want seconds, or a number with s, m or h" >&2; exit 2; }
	local n=$((10#${BASH_REMATCH[1]}))
	case ${BASH_REMATCH[2]} in
	h) echo $((n * 3600)) ;;
	m) echo $((n * 60)) ;;
	*) echo "$n" ;;
	esac
}

budget=$(seconds "${KERNELTEST_BUDGET:-76}m")
budget_end=$((started + budget))
timeout_fixed=
[ -z "${KERNELTEST_TIMEOUT:-}" ] || timeout_fixed=$(seconds "$KERNELTEST_TIMEOUT")

kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || read -r -a kernels <<<"${KERNELTEST_KERNELS:-amd64-6.1 arm64-6.1 amd64-6.12}"

# kernel_info KERNEL: its architecture, the package that depends on the
# current image of that kernel, and its guest's calibration time on a
# normal day (init.sh), in hundredths of a second.
kernel_info() {
	case $1 in
	amd64-6.1) echo amd64 linux-image-cloud-amd64 100 ;;
	amd64-6.12) echo amd64 linux-image-6.12-cloud-amd64 60 ;;
	arm64-6.1) echo arm64 linux-image-cloud-arm64:arm64 370 ;;
	*)
		echo "test-kernels: unknown kernel $1 (want amd64-6.1, arm64-6.1 or amd64-6.12)" >&2
		exit 2
		;;
	esac
}
arches=()
for k in "${kernels[@]}"; do
	read -r arch _ <<<"$(kernel_info "$k")"
	[[ " ${arches[*]} " == *" $arch "* ]] || arches+=("$arch")
done

# What the host needs. arm64 packages (kernel, busybox, ip, libraries) are
# only downloaded, so dpkg must know the architecture; C workloads for the
# arm64 guest are built with Debian's cross compiler.
need=()
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v ip >/dev/null || need+=(iproute2)
command -v cc >/dev/null || need+=(gcc)
command -v readelf >/dev/null || need+=(binutils)
update=false
for arch in "${arches[@]}"; do
	case $arch in
	amd64) command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86) ;;
	arm64)
		command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm)
		command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
		if ! dpkg --print-foreign-architectures | grep -qx arm64; then
			dpkg --add-architecture arm64
			update=true
		fi
		;;
	esac
done
if [ ${#need[@]} -gt 0 ] || $update; then
	echo "== apt-get install ${need[*]}"
	apt-get update -qq
	[ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/ebtools-kerneltest.XXXXXX)
trap 'rm -rf "$work"' EXIT

# deb_get DIR PKG...: download Debian packages and extract them into DIR.
deb_get() {
	local dir=$1 dl
	shift
	dl=$(mktemp -d "$work/dl.XXXXXX")
	if ! (cd "$dl" && apt-get download -qq "$@" 2>/dev/null); then
		apt-get update -qq
		(cd "$dl" && apt-get download -qq "$@")
	fi
	for f in "$dl"/*.deb; do dpkg -x "$f" "$dir"; done
	rm -rf "$dl"
}

# arm64_libs ROOT ELF: copy the shared libraries ELF needs into ROOT, each
# from the arm64 build of the package that holds it on the host.
arm64_libs() {
	local root=$1 elf=$2 so lib pkg
	for so in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
		[ -e "$root/lib/aarch64-linux-gnu/$so" ] && continue
		lib=$(find "$work/arm64-debs" -name "$so" 2>/dev/null | head -1)
		if [ -z "$lib" ]; then
			pkg=$(dpkg -S "x86_64-linux-gnu/$so" | head -1 | cut -d: -f1)
			deb_get "$work/arm64-debs" "$pkg:arm64"
			lib=$(find "$work/arm64-debs" -name "$so" | head -1)
		fi
		install -D -m 755 "$(readlink -f "$lib")" "$root/lib/aarch64-linux-gnu/$so"
		arm64_libs "$root" "$lib"
	done
}

# base ARCH: the part of the initramfs every kernel of ARCH shares: busybox,
# real binaries where busybox differs from what tests and users run (ip for
# network namespaces; true, echo and rm, whose comm the tests check), the
# static ebtools and test binaries, and the C workloads (testutil.CBinary).
base() {
	local arch=$1 root=$work/base-$arch b
	mkdir -p "$root"/{bin,proc,sys,dev,tmp,run,etc,modules,tests,testbin,boot} "$root/var/run/netns"
	case $arch in
	amd64)
		cp /bin/busybox "$root/bin/"
		for b in "$(command -v ip)" /usr/bin/true /usr/bin/echo /usr/bin/rm; do
			install -D -m 755 "$b" "$root/bin/$(basename "$b")"
			for lib in $(ldd "$b" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
				cp --parents -L "$lib" "$root"
			done
		done
		;;
	arm64)
		mkdir -p "$work/arm64-debs"
		deb_get "$work/arm64-debs" busybox-static:arm64 iproute2:arm64 coreutils:arm64 libc6:arm64
		cp "$work/arm64-debs/bin/busybox" "$root/bin/"
		install -D -m 755 "$(readlink -f "$work/arm64-debs/lib/ld-linux-aarch64.so.1")" "$root/lib/ld-linux-aarch64.so.1"
		for b in bin/ip bin/true bin/echo bin/rm; do
			install -D -m 755 "$work/arm64-debs/$b" "$root/bin/$(basename "$b")"
			arm64_libs "$root" "$work/arm64-debs/$b"
		done
		;;
	esac
	# The same busybox version on both: the host's lists the applets.
	for applet in $(/bin/busybox --list | grep -vx busybox); do
		[ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
	done
	cp /etc/passwd /etc/group "$root/etc/"
	cp "$here/init.sh" "$root/init"
	chmod 755 "$root/init"

	echo "== building static binaries for $arch"
	export CGO_ENABLED=0 GOARCH=$arch
	go build -o "$root/bin/ebtools" ./cmd/ebtools
	for dir in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./...); do
		local name
		name=$(basename "$dir")
		mkdir -p "$root/tests/$name"
		go test -c -o "$root/tests/$name/$name.test" "$dir"
		[ -d "$dir/testdata" ] && cp -r "$dir/testdata" "$root/tests/$name/"
	done
	unset CGO_ENABLED GOARCH
	# Flags as in testutil.CBinary; the path in the module, without .c.
	local cc=cc src
	[ "$arch" = arm64 ] && cc=aarch64-linux-gnu-gcc
	for src in $(find . -path ./.git -prune -o -path '*/testdata/*.c' ! -name '*.bpf.c' -print); do
		src=${src#./}
		mkdir -p "$root/testbin/$(dirname "$src")"
		$cc -static -O2 -Wall -o "$root/testbin/${src%.c}" "$src"
	done
	(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$work/base-$arch.cpio.gz")
}
for arch in "${arches[@]}"; do base "$arch"; done

# boot KERNEL: the suite on one kernel; the per-kernel line goes to
# $work/lines, what a failure needs to be understood to $work/failures.
boot() {
	local k=$1 arch meta nominal pkg kdir kver kroot log m f
	read -r arch meta nominal <<<"$(kernel_info "$k")"
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
	if [ -z "$pkg" ]; then
		apt-get update -qq
		pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-/ {print $2; exit}')
	fi
	kdir=$work/kernel-$k
	deb_get "$kdir" "$pkg"
	kver=$(ls "$kdir/lib/modules")
	echo "== kernel $kver ($pkg)"

	# The kernel's own part of the initramfs, appended to its
	# architecture's: modules, the settings, and the build configuration
	# where a Debian system keeps it (this kernel has no /proc/config.gz;
	# the tests check doctor's answers against it).
	kroot=$work/root-$k
	mkdir -p "$kroot"/{modules,boot,etc}
	cp "$kdir/boot/config-$kver" "$kroot/boot/"
	for m in veth; do
		f=$(find "$kdir/lib/modules/$kver" -name "$m.ko*" | head -1)
		case "$f" in
		"") grep -q "^CONFIG_VETH=y" "$kdir/boot/config-$kver" || { echo "no $m module in $pkg" >&2; exit 1; } ;;
		*.xz) xz -dc "$f" >"$kroot/modules/$m.ko" ;;
		*.zst) zstd -dqc "$f" >"$kroot/modules/$m.ko" ;;
		*) cp "$f" "$kroot/modules/$m.ko" ;;
		esac
	done
	# The pace (init.sh) starts from a normal day's slowdown: the x86
	# guests run about 10 times slower than real hardware, the arm64 one
	# about twice as slow again in the busy tests (opensnoop: 58 s, 26 s).
	# Tests that pace a workload to what the tool keeps up with halve that
	# again (EBTOOLS_TEST_PACE, testutil.Paced): both vCPUs share one host
	# thread, so a busy workload starves the reader (at 1, the x86 guests
	# lost events in 3 of 4 runs of opensnoop's and the rotation test on a
	# day whose calibration was normal). A slowdown of 20 everywhere also
	# lost nothing, but made the 6.1 guest's packages up to a third slower.
	# The longest exact-count workload, execsnoop's fork-exec, is cut by
	# the same pace (testutil.Sized): 190 s of the 6.1 guest's 1,160 in a
	# CI run on 2026-12-03.
	local base=10
	[ "$arch" = arm64 ] && base=20
	cat >"$kroot/etc/kerneltest.env" <<-ENV
		ONLY='${KERNELTEST_ONLY:-}'
		RUN='${KERNELTEST_RUN:-.}'
		COUNT='${KERNELTEST_COUNT:-1}'
		BASE=$base
		NOMINAL=$nominal
		FIXED_SLOWDOWN='${KERNELTEST_SLOWDOWN:-}'
	ENV
	(cd "$kroot" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$work/$k.cpio.gz")
	cat "$work/base-$arch.cpio.gz" "$work/$k.cpio.gz" >"$work/initrd-$k.gz"

	local qemu
	case $arch in
	amd64)
		qemu=(qemu-system-x86_64 -accel "tcg,thread=${KERNELTEST_TCG_THREAD:-single}" -append "console=ttyS0 quiet panic=-1 ${KERNELTEST_APPEND:-}")
		;;
	arm64)
		# pauth-impdef: the same pointer authentication, with a hash
		# that is much cheaper to emulate than the architected one.
		qemu=(qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -accel "tcg,thread=${KERNELTEST_TCG_THREAD:-single}"
			-append "console=ttyAMA0 quiet panic=-1 ${KERNELTEST_APPEND:-}")
		;;
	esac
	log=${KERNELTEST_LOGDIR:-/tmp}/ebtools-kerneltest-$k.log
	echo "== booting $kver under qemu (software emulation); serial console: $log"
	# A full run takes 10-20 minutes on the amd64 kernels and 15-33 on
	# arm64 (the calibration's days, 2026-12-02 and 03: a 6.1 guest took
	# 1,172 s at a scale of 100 %): a guest is stopped after 30 minutes
	# (arm64: 45) times the scale its calibration found, and never later
	# than the budget leaves for the guests after it (see watch).
	rm -f "$work/stopped" "$work/qemu.pid" "$log"
	local began=$SECONDS limit=1800 reserve=$(((${#kernels[@]} - ++booted) * 300))
	[ "$arch" = arm64 ] && limit=2700
	watch "$log" "$work/qemu.pid" "$limit" "$reserve" &
	local watcher=$!
	# The backstop, should the watcher fail: the budget, less the reserve.
	local backstop=$(($(seconds_left) - reserve + 60))
	timeout -k 30 $((backstop > 60 ? backstop : 60)) "${qemu[@]}" -pidfile "$work/qemu.pid" -m 2048 -smp 2 -nographic -no-reboot \
		-kernel "$kdir/boot/vmlinuz-$kver" -initrd "$work/initrd-$k.gz" </dev/null |
		sed -u -e 's/\x1b[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/\r$//' | tee "$log" |
		grep --line-buffered -E 'KERNELTEST|--- (PASS|FAIL|SKIP)|_test.go:[0-9]+: kernel |: (FAIL|panic)|BUG:|lockup|^[a-z_ ]+ +(yes|no) ' || true
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	local secs=$((SECONDS - began))
	report "$k" "$kver" "$log" "$secs"
}

# watch LOG PIDFILE LIMIT RESERVE: stops the guest whose console goes to
# LOG (its qemu's pid in PIDFILE) once it has run LIMIT seconds times the
# scale its pace line reports (init.sh), or KERNELTEST_TIMEOUT if set, or
# when only RESERVE seconds of the budget are left for the guests after
# it; says why in $work/stopped.
watch() {
	local log=$1 pidfile=$2 limit=$3 reserve=$4 start now scale end why pid
	start=$(date +%s)
	while sleep 2; do
		now=$(date +%s)
		if [ -n "$timeout_fixed" ]; then
			end=$((start + timeout_fixed)) why="KERNELTEST_TIMEOUT=$KERNELTEST_TIMEOUT"
		else
			# The pace line comes once, early: read until it has.
			[ -n "${scale:-}" ] || scale=$(sed -n 's/^KERNELTEST pace .* scale=\([0-9]*\)%.*/\1/p' "$log" 2>/dev/null | head -1 || true)
			end=$((start + limit * ${scale:-100} / 100)) why="its limit, ${limit} s times its pace's scale of ${scale:-100} %"
		fi
		if [ $((budget_end - reserve)) -lt "$end" ]; then
			end=$((budget_end - reserve)) why="the budget (KERNELTEST_BUDGET=${KERNELTEST_BUDGET:-76} minutes) less ${reserve} s for the guests after it"
		fi
		[ "$now" -ge "$end" ] || continue
		pid=$(cat "$pidfile" 2>/dev/null || true)
		[ -n "$pid" ] || continue # qemu has not started yet
		echo "stopped after $((now - start)) s: $why" >"$work/stopped"
		kill "$pid" 2>/dev/null || true
		return
	done
}

# report KERNEL RELEASE LOG SECONDS: count what the guest said. A skip fails
# the run too: every test here is meant to run on every kernel. A package
# that failed without a failed test (a panic, a timeout) counts as a
# failure, and so does a guest that never finished.
report() {
	local k=$1 kver=$2 log=$3 secs=$4 pass fail skip broken machine ok=true
	pass=$(grep -c -- '--- PASS' "$log" || true)
	fail=$(grep -c -- '--- FAIL' "$log" || true)
	skip=$(grep -c -- '--- SKIP' "$log" || true)
	machine=$(sed -n 's/^KERNELTEST kernel [^ ]* \([^ ]*\)$/\1/p' "$log" | head -1)
	broken=$(awk '/^KERNELTEST [a-z_0-9]+ FAIL/ {p[$2] = 1} /^[a-z_0-9]+: +--- FAIL/ {sub(":", "", $1); f[$1] = 1}
		END {for (n in p) if (!(n in f)) print n}' "$log")
	fail=$((fail + $(echo -n "$broken" | grep -c . || true)))
	local finished=true
	grep -q 'KERNELTEST END' "$log" || { finished=false; fail=$((fail + 1)); }
	[ "$fail" = 0 ] && [ "$skip" = 0 ] && [ "$pass" != 0 ] || ok=false
	echo "== attach paths the forced tests saw on $kver:"
	grep -E 'EBTOOLS_FORCE=[a-z,]*: attached with ' "$log" | sed -E 's/^([a-z]+): +[a-z_]+\.go:[0-9]+: /\1: /' | sort | uniq || true
	if $finished; then echo "== $k: ${secs}s from boot to power-off"; else echo "== $k: stopped after ${secs}s"; fi
	echo "kernel $kver ${machine:-?}: $pass passed, $fail failed, $skip skipped" >>"$work/lines"
	total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
	$ok && return
	failed_kernels+=("$k")
	{
		echo "== $k ($kver): what failed; whole console: $log"
		$finished || echo "the guest did not finish (no KERNELTEST END): $(cat "$work/stopped" 2>/dev/null || echo "crashed or hung"); the last test it started: $(grep -E '^[a-z_0-9]+: === RUN' "$log" | tail -1 | sed 's/: === RUN */ /')"
		for n in $broken; do echo "package $n failed without a failed test (panic or timeout):"; grep -E "^$n: (panic|\\*\\*\\*|FAIL)" "$log" | head -5; done
		grep -E '^KERNELTEST [a-z_0-9]+ FAIL' "$log" || true
		grep -E -- '--- SKIP' "$log" | head -5 || true
		# What each failing test said last (its t.Error / t.Fatal lines, shortened).
		awk '/=== (RUN|CONT)/ {cur = $NF; next}
			/--- FAIL: / {print; name = $(NF-1); for (i = (n[name] > 5 ? n[name] - 4 : 1); i <= n[name]; i++) print "  " said[name, i]; next}
			/^[a-z_0-9]+:     *([a-z_]+_test\.go:[0-9]+: |     *[^ ])/ {n[cur]++; said[cur, n[cur]] = substr($0, 1, 200)}' "$log" | head -30
		$finished || { echo "the end of its serial console:"; tail -8 "$log" | cut -c1-200; }
	} >>"$work/failures"
}

# seconds_left: what is left of the budget, 0 once it is spent.
seconds_left() {
	local left=$((budget_end - $(date +%s)))
	echo $((left > 0 ? left : 0))
}

total_pass=0 total_fail=0 total_skip=0 booted=0
failed_kernels=()
: >"$work/lines"
: >"$work/failures"
for k in "${kernels[@]}"; do boot "$k"; done

# Last, as CI shows only the end: what failed, then one line per kernel.
cat "$work/failures"
echo "== test-kernels: one line per kernel"
cat "$work/lines"
echo "test-kernels: $total_pass passed, $total_fail failed, $total_skip skipped"
[ ${#failed_kernels[@]} -eq 0 ] || { echo "test-kernels: FAIL on ${failed_kernels[*]}"; exit 1; }
