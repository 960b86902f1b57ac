#!/bin/sh
# /init of the test-kernels guest (see run.sh): mounts what a bare system
# has, runs each package's test binary and reports on the serial console.
# run.sh writes /etc/kerneltest.env: ONLY, RUN, COUNT, and the pace: BASE
# (the slowdown a guest has on a normal day), NOMINAL
# (the calibration's time then, in hundredths of a second) and
# FIXED_SLOWDOWN (KERNELTEST_SLOWDOWN, which wins when set).
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
echo "KERNELTEST kernel $(uname -r) $(uname -m)"

# The pace. The host's speed, and so the emulated guest's, varies from
# day to day (a 6.12 guest took 584 s one day and did not finish in 1,200
# the next), so it is measured, not assumed: 200,000 one-byte reads and as
# many writes, the best of three. SLOWDOWN, by which the tests stretch their
# bounds and divide their paced rates, is BASE times the measured time
# over NOMINAL, and never below BASE; SCALE (percent) is the same ratio,
# which stretches each test binary's 10-minute bound here and, read from
# this line, run.sh's limit for the whole guest.
best= samples=
for i in 1 2 3; do
	read -r t0 _ </proc/uptime
	dd if=/dev/zero of=/dev/null bs=1 count=200000 2>/dev/null
	read -r t1 _ </proc/uptime
	# Hundredths: "12.05" is 12 * 100 + 105 - 100 (no leading zero, no octal).
	t=$(( ${t1%.*} * 100 + 1${t1#*.} - ${t0%.*} * 100 - 1${t0#*.} ))
	samples="$samples $t"
	[ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
done
SCALE=$(( best * 100 / NOMINAL ))
[ "$SCALE" -ge 100 ] || SCALE=100
SLOWDOWN=$(( (BASE * SCALE + 99) / 100 ))
[ -z "$FIXED_SLOWDOWN" ] || SLOWDOWN=$FIXED_SLOWDOWN
echo "KERNELTEST pace calibration=${best}cs (of$samples) nominal=${NOMINAL}cs scale=${SCALE}% slowdown=$SLOWDOWN"
export EBTOOLS_BINARY=/bin/ebtools EBTOOLS_REQUIRE_PRIVILEGED=1 EBTOOLS_TEST_SLOWDOWN="$SLOWDOWN" EBTOOLS_TEST_PACE=2 \
	EBTOOLS_TESTBIN_DIR=/testbin TMPDIR=/tmp
/bin/ebtools doctor
failed=0
for dir in /tests/*; do
	name=$(basename "$dir")
	case " ${ONLY:-$name} " in *" $name "*) ;; *) continue ;; esac
	cd "$dir"
	began=$(date +%s)
	# Every line goes to the console as it is written, so that a stall
	# shows where it happened.
	{ ./"$name".test -test.v -test.timeout $((600 * SCALE / 100))s -test.run "$RUN" -test.count "$COUNT" 2>&1; echo $? > /tmp/rc; } | sed "s|^|$name: |"
	if [ "$(cat /tmp/rc)" = 0 ]; then r=ok; else r=FAIL; failed=1; fi
	echo "KERNELTEST $name $r $(($(date +%s) - began))s"
done
echo "KERNELTEST END failed=$failed"
poweroff -f
