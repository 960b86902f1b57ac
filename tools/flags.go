package tools

import (
	"math"
	"os/user"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
)

// NoUID is the kernel-side "any UID" value of the targ_uid filters: UID 0 is
// root, so 0 cannot mean "off".
const NoUID = math.MaxUint32

// PIDMax is Linux's PID_MAX_LIMIT: no PID or TID is larger, whatever
// kernel.pid_max says.
const PIDMax = 4 << 20

// ParseUID parses a -u/--uid value: a number or a user name.
func ParseUID(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil && n != NoUID {
		return uint32(n), nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, Usagef("-u/--uid %q: not a UID or a known user", s)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, Usagef("-u/--uid %q: user has UID %q", s, u.Uid)
	}
	return uint32(n), nil
}

// PositiveID returns the value of an int flag that names a process or
// thread, 0 when it was not given. A value outside 1 to PIDMax is a usage
// error: as a kernel filter it would be truncated to 32 bits, and 0 turns
// the filter off.
func PositiveID(c *cli.Context, name string) (uint32, error) {
	if !c.IsSet(name) {
		return 0, nil
	}
	n, err := IntRange(c, name, 1, PIDMax)
	return uint32(n), err
}

// IntRange returns the value of int flag name, or a usage error unless it
// lies in lo..hi.
func IntRange(c *cli.Context, name string, lo, hi int) (int, error) {
	n := c.Int(name)
	if n < lo || n > hi {
		return n, Usagef("%s %d: want %d to %d", FlagName(c, name), n, lo, hi)
	}
	return n, nil
}

// Seconds converts the value s of float flag name, in seconds, to a
// Duration, or returns a usage error unless s is a number from lo to hi
// (NaN and infinities are not).
func Seconds(c *cli.Context, name string, lo, hi float64) (time.Duration, error) {
	s := c.Float64(name)
	if !(s >= lo && s <= hi) { // false for NaN
		return 0, Usagef("%s %v: want %s to %s seconds", FlagName(c, name), s,
			strconv.FormatFloat(lo, 'f', -1, 64), strconv.FormatFloat(hi, 'f', -1, 64))
	}
	return time.Duration(s * float64(time.Second)), nil
}

// FlagName returns how users spell flag name in c's command, "-p/--pid",
// for messages.
func FlagName(c *cli.Context, name string) string {
	long := "--" + name
	if c.Command == nil {
		return long
	}
	for _, f := range c.Command.Flags {
		names := f.Names()
		if len(names) == 0 || names[0] != name {
			continue
		}
		for _, alias := range names[1:] {
			if len(alias) == 1 {
				return "-" + alias + "/" + long
			}
		}
	}
	return long
}
