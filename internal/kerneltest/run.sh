#!/usr/bin/env bash
# make test-kernels: run the test suite on a second, differently configured
# kernel: Debian's 6.1 cloud kernel (kprobes, fentry, BTF), booted under
# qemu's software emulation with a busybox initramfs that holds static test
# binaries. The guest mounts proc, sys, devtmpfs and tmpfs, nothing else:
# ebtools mounts tracefs itself. The verdict comes back on the serial console.
#
# qemu runs its vCPUs on one host thread (tcg,thread=single): with a thread
# per vCPU, a vCPU could keep running its stale translation of kernel code
# another vCPU had just patched (text_poke of a static key, which happens
# whenever a tool attaches the first syscall tracepoint or detaches the
# last): it looped on the int3 forever (soft lockups in 2 of 3 full runs).
#
#   bash internal/kerneltest/run.sh        (as root; installs what it needs)
#
# For bisecting: KERNELTEST_ONLY=<package dir name> runs one test binary,
# KERNELTEST_RUN and KERNELTEST_COUNT are its -test.run and -test.count,
# KERNELTEST_APPEND adds to the kernel command line (loglevel=7 shows
# stack traces), KERNELTEST_LOG is where the serial console goes.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# The guest has no libc: only the static busybox will do.
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/ebtools-kerneltest.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The kernel: extracted from Debian's package, never installed on the host.
pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$pkg" ]; then
	apt-get update -qq
	pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
fi
(cd "$work" && apt-get download -qq "$pkg" 2>/dev/null)
dpkg -x "$work"/*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
echo "== kernel $kver ($pkg)"

root=$work/root
mkdir -p "$root"/{bin,proc,sys,dev,tmp,run,etc,modules,tests} "$root/var/run/netns"
cp /bin/busybox "$root/bin/"
for applet in $(/bin/busybox --list | grep -vx busybox); do ln -sf busybox "$root/bin/$applet"; done
# Real binaries where busybox differs from what tests and users run: ip for
# network namespaces; true, echo and rm, whose comm the tests check.
copy_with_libs() {
	install -D -m 755 "$1" "$root/bin/$(basename "$1")"
	for lib in $(ldd "$1" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
		cp --parents -L "$lib" "$root"
	done
}
for b in "$(command -v ip)" /usr/bin/true /usr/bin/echo /usr/bin/rm; do copy_with_libs "$b"; done
cp /etc/passwd /etc/group "$root/etc/"
# Where a Debian system keeps the kernel's build configuration (this kernel
# has no /proc/config.gz): the tests check doctor's answers against it.
mkdir -p "$root/boot" && cp "$work/kernel/boot/config-$kver" "$root/boot/"
for m in veth; do
	f=$(find "$work/kernel/lib/modules/$kver" -name "$m.ko*" | head -1)
	case "$f" in
	*.xz) xz -dc "$f" > "$root/modules/$m.ko" ;;
	*.zst) zstd -dqc "$f" > "$root/modules/$m.ko" ;;
	*) cp "$f" "$root/modules/$m.ko" ;;
	esac
done

echo "== building static binaries"
CGO_ENABLED=0 go build -o "$root/bin/ebtools" ./cmd/ebtools
pkgs=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./...)
for dir in $pkgs; do
	name=$(basename "$dir")
	mkdir -p "$root/tests/$name"
	CGO_ENABLED=0 go test -c -o "$root/tests/$name/$name.test" "$dir"
	[ -d "$dir/testdata" ] && cp -r "$dir/testdata" "$root/tests/$name/"
done

cat > "$root/init" <<INIT
#!/bin/sh
ONLY=${KERNELTEST_ONLY:-}
RUN='${KERNELTEST_RUN:-.}'
COUNT=${KERNELTEST_COUNT:-1}
INIT
cat >> "$root/init" <<'INIT'
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/netns /var/run && ln -sf /run/netns /var/run/netns 2>/dev/null
ip link set lo up
for m in /modules/*.ko; do insmod "$m"; done
export EBTOOLS_BINARY=/bin/ebtools EBTOOLS_REQUIRE_PRIVILEGED=1 EBTOOLS_TEST_SLOWDOWN=10 TMPDIR=/tmp
echo "KERNELTEST kernel $(uname -r)"
/bin/ebtools doctor
failed=0
for dir in /tests/*; do
	name=$(basename "$dir")
	[ -n "$ONLY" ] && [ "$name" != "$ONLY" ] && continue
	cd "$dir"
	began=$(date +%s)
	# Every line goes to the console as it is written, so that a stall
	# shows where it happened.
	{ ./"$name".test -test.v -test.timeout 20m -test.run "$RUN" -test.count "$COUNT" 2>&1; echo $? > /tmp/rc; } | sed "s|^|$name: |"
	if [ "$(cat /tmp/rc)" = 0 ]; then r=ok; else r=FAIL; failed=1; fi
	echo "KERNELTEST $name $r $(($(date +%s) - began))s"
done
echo "KERNELTEST END failed=$failed"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$work/initrd.gz")
log=${KERNELTEST_LOG:-/tmp/ebtools-kerneltest-serial.log}
echo "== booting $kver under qemu (software emulation); serial console: $log"
timeout 30m qemu-system-x86_64 -accel tcg,thread=single -m 2048 -smp 2 -nographic -no-reboot \
	-kernel "$work/kernel/boot/vmlinuz-$kver" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 ${KERNELTEST_APPEND:-}" </dev/null |
	sed -u -e 's/\x1b[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/\r$//' | tee "$log" |
	grep --line-buffered -E 'KERNELTEST|--- (PASS|FAIL|SKIP)|_test.go:[0-9]+: kernel |: (FAIL|panic)|BUG:|lockup|^[a-z_ ]+ +(yes|no) ' || true
pass=$(grep -c -- '--- PASS' "$log" || true)
fail=$(grep -c -- '--- FAIL' "$log" || true)
skip=$(grep -c -- '--- SKIP' "$log" || true)
echo "== guest $kver: $pass passed, $fail failed, $skip skipped (subtests included)"
echo "== attach paths the forced tests saw on $kver:"
grep -E 'EBTOOLS_FORCE=[a-z]*: attached with ' "$log" | sed -E 's/^([a-z]+): +[a-z_]+\.go:[0-9]+: /\1: /' | sort | uniq || true
# A skip fails the run too: every test here is meant to run on this kernel.
if ! grep -q 'KERNELTEST END failed=0' "$log" || [ "$fail" != 0 ] || [ "$skip" != 0 ] || [ "$pass" = 0 ]; then
	grep -E -B2 -A20 -- '--- FAIL' "$log" | head -150 || true
	echo "== the end of the serial console:"
	tail -15 "$log"
	# Last, as CI shows only the end: what failed, and what each failing
	# test said last (its t.Error / t.Fatal lines, shortened).
	echo "== summary:"
	grep -E '^KERNELTEST [a-z_]+ FAIL' "$log" || true
	grep -E -- '--- SKIP' "$log" | head -5 || true
	awk '/=== (RUN|CONT)/ {cur = $NF; next}
		/--- FAIL: / {print; name = $(NF-1); for (i = (n[name] > 5 ? n[name] - 4 : 1); i <= n[name]; i++) print "  " said[name, i]; next}
		/^[a-z_]+:     *([a-z_]+_test\.go:[0-9]+: |     *[^ ])/ {n[cur]++; said[cur, n[cur]] = substr($0, 1, 200)}' "$log" | head -30
	echo "test-kernels: FAIL ($pass passed, $fail failed, $skip skipped on $kver; whole console: $log)"
	exit 1
fi
echo "test-kernels: PASS ($pass tests passed on $kver, none skipped)"
