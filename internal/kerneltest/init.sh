#!/bin/sh
# /init of the test-kernels guest (see run.sh): mounts what a bare system
# has, runs each package's test binary and reports on the serial console.
# run.sh writes /etc/kerneltest.env: ONLY, RUN, COUNT, SLOWDOWN.
. /etc/kerneltest.env
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /run/netns /var/run && ln -sf /run/netns /var/run/netns 2>/dev/null
ip link set lo up
for m in /modules/*.ko; do [ -e "$m" ] && insmod "$m"; done
export EBTOOLS_BINARY=/bin/ebtools EBTOOLS_REQUIRE_PRIVILEGED=1 EBTOOLS_TEST_SLOWDOWN="$SLOWDOWN" \
	EBTOOLS_TESTBIN_DIR=/testbin TMPDIR=/tmp
echo "KERNELTEST kernel $(uname -r) $(uname -m)"
/bin/ebtools doctor
failed=0
for dir in /tests/*; do
	name=$(basename "$dir")
	case " ${ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
	cd "$dir"
	began=$(date +%s)
	# Every line goes to the console as it is written, so that a stall
	# shows where it happened.
	{ ./"$name".test -test.v -test.timeout 10m -test.run "$RUN" -test.count "$COUNT" 2>&1; echo $? > /tmp/rc; } | sed "s|^|$name: |"
	if [ "$(cat /tmp/rc)" = 0 ]; then r=ok; else r=FAIL; failed=1; fi
	echo "KERNELTEST $name $r $(($(date +%s) - began))s"
done
echo "KERNELTEST END failed=$failed"
poweroff -f
