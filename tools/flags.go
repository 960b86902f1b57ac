package tools

import (
	"math"
	"os/user"
	"strconv"

	"github.com/urfave/cli/v2"
)

// NoUID is the kernel-side "any UID" value of the targ_uid filters: UID 0 is
// root, so 0 cannot mean "off".
const NoUID = math.MaxUint32

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
// thread, 0 when it was not given.
func PositiveID(c *cli.Context, name string) (uint32, error) {
	if !c.IsSet(name) {
		return 0, nil
	}
	n := c.Int(name)
	if n <= 0 {
		return 0, Usagef("--%s %d: want a positive ID", name, n)
	}
	return uint32(n), nil
}
