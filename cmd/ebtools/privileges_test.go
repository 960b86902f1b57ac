package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ebtools/ebtools/internal/testutil"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

// workload is what a tool under test should see: its arguments, and once
// it is attached, something to do that makes a row match matches.
type workload struct {
	args    []string
	trigger func(t *testing.T)
	matches func(line string) bool
	// jsonMatches is matches for -o json (a service's output).
	jsonMatches func(line string) bool
}

// leastPrivilege is, per tool, the capabilities a user other than root
// needs (as README's Security section and doctor say, with tracefs
// mounted but root's only) and a workload for it. Every registered tool
// must have an entry.
var leastPrivilege = map[string]struct {
	caps []ebrt.Capability
	work func(t *testing.T) workload
}{
	"killsnoop": {
		caps: []ebrt.Capability{ebrt.CapBPF, ebrt.CapPerfmon, ebrt.CapDACReadSearch},
		work: func(t *testing.T) workload {
			// A pid that does not exist: ESRCH, and no signal goes anywhere.
			const missing = 4194000
			return workload{
				args:    []string{"killsnoop", "-p", strconv.Itoa(os.Getpid()), "-s", "USR2"},
				trigger: func(t *testing.T) { unix.Kill(missing, unix.SIGUSR2) },
				matches: func(l string) bool {
					return strings.Contains(l, " SIGUSR2 ") && strings.Contains(l, strconv.Itoa(missing))
				},
				jsonMatches: contains(`"signal":"SIGUSR2"`, fmt.Sprintf(`"tpid":%d`, missing)),
			}
		},
	},
	"execsnoop": {
		caps: []ebrt.Capability{ebrt.CapBPF, ebrt.CapPerfmon, ebrt.CapDACReadSearch},
		work: func(t *testing.T) workload {
			marker := "least-privilege-" + strconv.Itoa(os.Getpid())
			return workload{
				args:        []string{"execsnoop", "-P", strconv.Itoa(os.Getpid())},
				trigger:     func(t *testing.T) { exec1(t, marker) },
				matches:     suffix("/bin/echo " + marker),
				jsonMatches: contains(`"args":["/bin/echo","` + marker + `"]`),
			}
		},
	},
	"opensnoop": {
		caps: []ebrt.Capability{ebrt.CapBPF, ebrt.CapPerfmon, ebrt.CapDACReadSearch},
		work: func(t *testing.T) workload {
			path := filepath.Join(t.TempDir(), "opened")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return workload{
				args: []string{"opensnoop", "-p", strconv.Itoa(os.Getpid())},
				trigger: func(t *testing.T) {
					f, err := os.Open(path)
					if err != nil {
						t.Fatal(err)
					}
					f.Close()
				},
				matches:     suffix(" " + path),
				jsonMatches: contains(`"path":"` + path + `"`),
			}
		},
	},
	"unlinksnoop": {
		caps: []ebrt.Capability{ebrt.CapBPF, ebrt.CapPerfmon, ebrt.CapDACReadSearch},
		work: func(t *testing.T) workload {
			path := filepath.Join(t.TempDir(), "deleted")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return workload{
				args: []string{"unlinksnoop", "-p", strconv.Itoa(os.Getpid())},
				trigger: func(t *testing.T) {
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
				},
				matches:     suffix(" " + path),
				jsonMatches: contains(`"op":"unlink"`, `"path":"`+path+`"`),
			}
		},
	},
	"tcplife": {
		caps: []ebrt.Capability{ebrt.CapBPF, ebrt.CapPerfmon},
		work: func(t *testing.T) workload {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
			return workload{
				args: []string{"tcplife", "-p", strconv.Itoa(os.Getpid()), "-L", port},
				trigger: func(t *testing.T) {
					c, err := net.Dial("tcp", ln.Addr().String())
					if err != nil {
						t.Fatal(err)
					}
					s, err := ln.Accept()
					if err != nil {
						t.Fatal(err)
					}
					c.Write([]byte("hello"))
					c.Close()
					s.Close()
				},
				matches:     func(l string) bool { return slices.Contains(strings.Fields(l), port) },
				jsonMatches: contains(`"lport":` + port + `,`),
			}
		},
	},
	"ipcount": {
		caps: []ebrt.Capability{ebrt.CapBPF, ebrt.CapPerfmon, ebrt.CapNetAdmin},
		work: func(t *testing.T) workload {
			v := testutil.NewVeth(t)
			testutil.IP(t, "addr", "add", "10.203.0.1/24", "dev", v.Host)
			testutil.IP(t, "-n", v.NS, "addr", "add", "10.203.0.2/24", "dev", v.Peer)
			testutil.IP(t, "-n", v.NS, "neigh", "replace", "10.203.0.1", "lladdr", v.HostMAC.String(), "dev", v.Peer, "nud", "permanent")
			return workload{
				args:        []string{"ipcount", "-i", "0.2", v.Host},
				trigger:     func(t *testing.T) { sendUDPFrom(t, v.NS, "10.203.0.2", "10.203.0.1", 20) },
				matches:     func(l string) bool { return strings.HasPrefix(l, "10.203.0.2 ") },
				jsonMatches: contains(`"row":"source","source":"10.203.0.2"`),
			}
		},
	},
}

// contains returns a matcher of lines that contain each of parts.
func contains(parts ...string) func(string) bool {
	return func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	}
}

// sendUDPFrom sends n UDP datagrams from src to dst inside network
// namespace ns, from a thread that enters it.
func sendUDPFrom(t *testing.T, ns, src, dst string, n int) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, in the other namespace, ends with
		// the goroutine.
		goruntime.LockOSThread()
		// ip(8) keeps namespaces in /run/netns or /var/run/netns, as built.
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			f, err = os.Open("/var/run/netns/" + ns)
		}
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter %s: %w", ns, err)
			return
		}
		// Unconnected, so that the ICMP "port unreachable" replies do not
		// fail the next send.
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)})
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		for i := 0; i < n; i++ {
			// Paced (10 datagrams, then a millisecond, stretched by
			// EBTOOLS_TEST_SLOWDOWN): a burst overflows the veth's ring
			// (and the queue of packets waiting for ARP) under emulation.
			if i%10 == 9 {
				time.Sleep(testutil.Scaled(time.Millisecond))
			}
			if _, err := c.WriteTo([]byte("least privilege"), &net.UDPAddr{IP: net.ParseIP(dst), Port: 9}); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		t.Fatalf("send from %s in %s: %v", src, ns, err)
	}
}

// asNobody returns a command that runs ebtools with args as UID and GID
// 65534, without groups, with exactly caps (as ambient capabilities, which
// become its permitted and effective sets across exec). Go does what
// setpriv(1) would: the test kernel's busybox has no setpriv that can.
func asNobody(t *testing.T, caps []ebrt.Capability, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	for _, c := range caps {
		cmd.SysProcAttr.AmbientCaps = append(cmd.SysProcAttr.AmbientCaps, uintptr(c.Bit()))
	}
	return cmd
}

// keptAfterAttach is what README says a tool keeps once attached: nothing,
// except CAP_BPF before Linux 5.19 where kernel.unprivileged_bpf_disabled is
// set, which refuses map reads without it.
func keptAfterAttach(t *testing.T) uint64 {
	t.Helper()
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor)
	b, err := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled")
	if err != nil {
		t.Fatal(err)
	}
	if major > 5 || major == 5 && minor >= 19 || strings.TrimSpace(string(b)) == "0" {
		return 0
	}
	return 1 << 39 // CAP_BPF
}

// checkCaps fails t unless every thread of pid has exactly want as its
// effective and permitted capabilities, and no inheritable or ambient ones.
func checkCaps(t *testing.T, pid int, want uint64) {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	for _, status := range tasks {
		f, err := os.Open(status)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			key, val, _ := strings.Cut(sc.Text(), ":")
			expect := uint64(0)
			switch key {
			case "CapEff", "CapPrm":
				expect = want
			case "CapInh", "CapAmb":
			default:
				continue
			}
			got, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
			if err != nil || got != expect {
				t.Errorf("%s: %s %s, want %016x", status, key, strings.TrimSpace(val), expect)
			}
		}
		f.Close()
	}
	t.Logf("%d threads hold capabilities %016x", len(tasks), want)
}

// TestLeastPrivilege runs every tool as an unprivileged user with exactly
// its documented capabilities: it sees a real event and, once attached,
// holds no more than documented. With any one of them missing, it fails
// with one sentence that names it.
func TestLeastPrivilege(t *testing.T) {
	testutil.RequirePrivileged(t)
	for _, tool := range tools.All() {
		if _, ok := leastPrivilege[tool.Name()]; !ok {
			t.Errorf("tool %s has no entry in leastPrivilege: measure its capabilities and add it", tool.Name())
		}
	}
	kept := keptAfterAttach(t)
	setPerfParanoid(t, 2)
	ensureTracefs(t)
	for name, tc := range leastPrivilege {
		t.Run(name, func(t *testing.T) {
			w := tc.work(t)
			p := testutil.StartCmd(t, asNobody(t, tc.caps, append([]string{"--log-level", "info"}, w.args...)...))
			checkCaps(t, p.Cmd.Process.Pid, kept)
			w.trigger(t)
			t.Logf("as nobody with %s: %s", capList(tc.caps), p.WaitLine(t, w.matches))
			if _, code := p.Stop(t, unix.SIGTERM); code != 0 {
				t.Errorf("exit %d\n%s", code, p.Stderr())
			}

			for i, drop := range tc.caps {
				fewer := slices.Delete(slices.Clone(tc.caps), i, i+1)
				// -d: a tool that wrongly runs ends by itself.
				_, stderr, code := ebtools(t, asNobody(t, fewer, append([]string{"-d", "5"}, w.args...)...))
				if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, drop.Name) {
					t.Errorf("without %s: exit %d, stderr %q; want a failure, in one sentence naming %s", drop.Name, code, stderr, drop.Name)
				}
			}
		})
	}
}

// ensureTracefs mounts tracefs where a tool run as root would, if nothing
// has: the tools run here as another user cannot mount it (the test
// kernel boots without it).
//
// The mounts are this thread's (/proc/thread-self), read and changed on
// one thread: /proc/self is the main thread's, which may have been left in
// another mount namespace by inMountNamespace (a locked goroutine that ends
// on the main thread leaves it parked, never reused).
func ensureTracefs(t *testing.T) {
	t.Helper()
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	b, err := os.ReadFile("/proc/thread-self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), " tracefs ") {
		return
	}
	if err := unix.Mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		t.Fatalf("mount tracefs: %v", err)
	}
	t.Log("mounted tracefs at /sys/kernel/tracing, as a tool run as root would")
}

// setPerfParanoid sets kernel.perf_event_paranoid to level for the test.
// TestLeastPrivilege measures at 2, the upstream default: at 3, Debian's
// and Ubuntu's kernels admit only CAP_SYS_ADMIN to perf events (README
// says so; TestPerfEventParanoid checks it).
func setPerfParanoid(t *testing.T, level int) {
	t.Helper()
	const path = "/proc/sys/kernel/perf_event_paranoid"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if old == level {
		return
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(level)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel.perf_event_paranoid %d for this test (was %d)", level, old)
	t.Cleanup(func() { os.WriteFile(path, []byte(strconv.Itoa(old)), 0o644) })
}

// TestPerfEventParanoid: with kernel.perf_event_paranoid at 3, a kernel
// that keeps perf events for CAP_SYS_ADMIN (Debian's, Ubuntu's) makes a
// tracepoint tool fail with a sentence naming CAP_SYS_ADMIN and the
// sysctl, and CAP_SYS_ADMIN added makes it run; upstream takes 3 as 2.
func TestPerfEventParanoid(t *testing.T) {
	testutil.RequirePrivileged(t)
	setPerfParanoid(t, 3)
	ensureTracefs(t)
	caps := leastPrivilege["execsnoop"].caps
	_, stderr, code := ebtools(t, asNobody(t, caps, "execsnoop", "-d", "0.1"))
	// Doctor tells which: CAP_SYS_ADMIN among execsnoop's capabilities.
	if doctorCaps := doctorCapabilities(t)["execsnoop"]; slices.Contains(doctorCaps, ebrt.CapSysAdmin.Name) != (code != 0) {
		t.Errorf("doctor says execsnoop needs %v; as nobody with %s it exits %d", doctorCaps, capList(caps), code)
	}
	if code == 0 {
		t.Logf("this kernel takes kernel.perf_event_paranoid=3 as 2: %s runs with %s", "execsnoop", capList(caps))
		return
	}
	if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "CAP_SYS_ADMIN to open perf events while kernel.perf_event_paranoid is 3") {
		t.Fatalf("exit %d, stderr %q; want one sentence naming CAP_SYS_ADMIN and kernel.perf_event_paranoid", code, stderr)
	}
	t.Logf("this kernel keeps perf events for CAP_SYS_ADMIN at paranoid 3: %s", stderr)
	if _, stderr, code := ebtools(t, asNobody(t, append(slices.Clone(caps), ebrt.CapSysAdmin), "execsnoop", "-d", "0.1")); code != 0 {
		t.Errorf("with CAP_SYS_ADMIN added: exit %d, stderr %q", code, stderr)
	}
}

// TestRootDropsCapabilities: run as root, a tool holds no more than
// documented once attached, on every thread.
func TestRootDropsCapabilities(t *testing.T) {
	testutil.RequirePrivileged(t)
	kept := keptAfterAttach(t)
	for name, tc := range leastPrivilege {
		t.Run(name, func(t *testing.T) {
			p := testutil.Start(t, tc.work(t).args...)
			checkCaps(t, p.Cmd.Process.Pid, kept)
			if !strings.Contains(p.Stderr(), "caps=") {
				t.Errorf("the attached line does not say what it kept:\n%s", p.Stderr())
			}
			if _, code := p.Stop(t, unix.SIGTERM); code != 0 {
				t.Errorf("exit %d\n%s", code, p.Stderr())
			}
		})
	}
}

// TestDoctorCapabilities: doctor tells, per tool, the capabilities this
// test measures (at kernel.perf_event_paranoid 2, as TestLeastPrivilege).
func TestDoctorCapabilities(t *testing.T) {
	testutil.RequirePrivileged(t)
	setPerfParanoid(t, 2)
	got := doctorCapabilities(t)
	for name, tc := range leastPrivilege {
		if want := capList(tc.caps); strings.Join(got[name], ",") != want {
			t.Errorf("doctor says %s needs %v, measured %s", name, got[name], want)
		}
	}
}

// doctorCapabilities returns what doctor -o json says each tool needs.
func doctorCapabilities(t *testing.T) map[string][]string {
	t.Helper()
	out, stderr, code := ebtools(t, exec.Command(testutil.Binary(t), "-o", "json", "doctor"))
	if code != 0 {
		t.Fatalf("doctor exit %d: %s", code, stderr)
	}
	caps := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			Tool         string
			Capabilities []string
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("doctor -o json line %q: %v", l, err)
		}
		if v.Tool != "" {
			caps[v.Tool] = v.Capabilities
		}
	}
	return caps
}

func capList(caps []ebrt.Capability) string {
	var names []string
	for _, c := range caps {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}
