package tools_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ebtools/ebtools/internal/testutil"
)

// The provenance tests run every event tool against a workload that
// stands for a service or a container, made from a cgroup v2 directory,
// namespaces and a chroot (podman cannot run containers on this machine's
// hybrid cgroups; the tools need none of it anyway).

type ancestor struct {
	PID    int    `json:"pid"`
	Comm   string `json:"comm"`
	ExecID string `json:"exec_id"`
}

// row is what the tests read of a JSON row: the task keys and what finds
// the workload's row in each tool.
type row struct {
	PID         int        `json:"pid"`
	UID         int        `json:"uid"`
	GID         int        `json:"gid"`
	NsPID       int        `json:"ns_pid"`
	Comm        string     `json:"comm"`
	ExecID      string     `json:"exec_id"`
	Cgroup      *string    `json:"cgroup"`
	Unit        *string    `json:"unit"`
	ContainerID *string    `json:"container_id"`
	PodUID      *string    `json:"pod_uid"`
	MntNS       uint64     `json:"mntns"`
	PidNS       uint64     `json:"pidns"`
	Ancestors   []ancestor `json:"ancestors"`
	Arg         *string    `json:"arg"`
	Path        *string    `json:"path"`
	Root        *string    `json:"root"`
	RPort       int        `json:"rport"`
	Args        []string   `json:"args"`
	Sig         *int       `json:"sig"`
	Raw         string     `json:"-"`
}

func str(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

func containerID(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

// workload is one started tools/testdata/workload.c, waiting on stdin.
type workload struct {
	cmd          *exec.Cmd
	start        io.WriteCloser
	file         string // as the workload names it
	hostFile     string
	mntns, pidns uint64
	root         string // its chroot, "" for none
}

// listener accepts and closes connections, for tcplife.
func listener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// startWorkload runs the workload in the cgroup rel; a container gets its
// own mount and pid namespaces and a chroot into a root of its own. A
// workload that is no container runs as cred's user, if cred is set.
func startWorkload(t *testing.T, rel string, container bool, port int, cred *syscall.Credential) *workload {
	t.Helper()
	if container && cred != nil {
		t.Fatal("startWorkload: a container runs as root")
	}
	bin := testutil.CBinary(t, "testdata/workload.c")
	_, fd := testutil.Cgroup(t, rel)
	w := &workload{}
	attr := &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	path := bin
	if container {
		w.root, _ = filepath.EvalSymlinks(t.TempDir())
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(w.root+"/data", 0o755)
		if err := os.WriteFile(w.root+"/workload", b, 0o755); err != nil {
			t.Fatal(err)
		}
		attr.Chroot, attr.Cloneflags = w.root, syscall.CLONE_NEWNS|syscall.CLONE_NEWPID
		path, w.file, w.hostFile = "/workload", "/data/f", w.root+"/data/f"
	} else if cred != nil {
		// The user must reach the binary and may delete the file: a
		// folder of its own, outside the test's (which only root enters).
		dir, err := os.MkdirTemp("", "ebtools-cred")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		dir, _ = filepath.EvalSymlinks(dir)
		b, err := os.ReadFile(bin)
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err == nil {
			err = os.Chown(dir, int(cred.Uid), int(cred.Gid))
		}
		if err == nil {
			err = os.WriteFile(dir+"/workload", b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		attr.Credential = cred
		path, w.file, w.hostFile = dir+"/workload", dir+"/f", dir+"/f"
	} else {
		dir, _ := filepath.EvalSymlinks(t.TempDir())
		w.file, w.hostFile = dir+"/f", dir+"/f"
	}
	if err := os.WriteFile(w.hostFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(path, w.file, strconv.Itoa(port))
	w.cmd.SysProcAttr = attr
	w.cmd.Stderr = os.Stderr
	var err error
	if w.start, err = w.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start workload: %v", err)
	}
	t.Cleanup(func() { w.cmd.Process.Kill(); w.cmd.Wait() })
	w.mntns = nsInode(t, w.cmd.Process.Pid, "mnt")
	w.pidns = nsInode(t, w.cmd.Process.Pid, "pid")
	return w
}

func nsInode(t *testing.T, pid int, ns string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// run lets the workload act and waits for its end.
func (w *workload) run(t *testing.T) {
	t.Helper()
	w.start.Write([]byte("go\n"))
	if err := w.cmd.Wait(); err != nil {
		t.Fatalf("workload: %v", err)
	}
}

// mine reports whether a tool's row is the workload's own act.
var mine = map[string]func(r row, w *workload, port int) bool{
	"execsnoop":   func(r row, w *workload, _ int) bool { return strings.Join(r.Args, " ") == "workload done" },
	"opensnoop":   func(r row, w *workload, _ int) bool { return str(r.Arg) == w.file },
	"unlinksnoop": func(r row, w *workload, _ int) bool { return str(r.Arg) == w.file },
	"tcplife":     func(r row, _ *workload, port int) bool { return r.RPort == port },
	"killsnoop":   func(r row, _ *workload, _ int) bool { return r.Sig != nil && *r.Sig == 0 },
}

var eventTools = []string{"execsnoop", "opensnoop", "unlinksnoop", "tcplife", "killsnoop"}

func firstRow(t *testing.T, p *testutil.Proc) row {
	t.Helper()
	l := p.WaitLine(t, func(string) bool { return true })
	var r row
	if err := json.Unmarshal([]byte(l), &r); err != nil {
		t.Fatalf("%v: %q", err, l)
	}
	r.Raw = l
	return r
}

// TestProvenance: every event tool reports the unit, container, pod,
// namespaces and ancestors of a workload in each kind of service and
// container, and each filter (--unit, --container, --mntns) keeps the
// workload's rows and leaves out another's.
func TestProvenance(t *testing.T) {
	testutil.RequirePrivileged(t)
	id := func(n string) string { return containerID(n) }
	pod := "f1e2d3c4-b5a6-4789-9abc-def012345678"
	cases := []struct {
		name, cgroup      string
		container         bool
		unit, cid, podUID string
		filter            func(w *workload) []string
	}{
		{"systemd service", "system.slice/backup.service", false, "backup.service", "", "",
			func(*workload) []string { return []string{"--unit", "backup.service"} }},
		{"docker", "system.slice/docker-" + id("docker") + ".scope", true, "docker-" + id("docker") + ".scope", id("docker"), "",
			func(*workload) []string { return []string{"--container", id("docker")[:12]} }},
		{"containerd", "system.slice/cri-containerd-" + id("cri") + ".scope", true, "cri-containerd-" + id("cri") + ".scope", id("cri"), "",
			func(w *workload) []string { return []string{"--mntns", strconv.FormatUint(w.mntns, 10)} }},
		{"podman", "machine.slice/libpod-" + id("podman") + ".scope", true, "libpod-" + id("podman") + ".scope", id("podman"), "",
			func(*workload) []string { return []string{"--container", id("podman")} }},
		{"kubernetes", "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(pod, "-", "_") +
			".slice/cri-containerd-" + id("k8s") + ".scope", true, "cri-containerd-" + id("k8s") + ".scope", id("k8s"), pod,
			func(*workload) []string { return []string{"--container", id("k8s")[:20]} }},
	}
	port := listener(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			other := startWorkload(t, "system.slice/other.service", false, port, nil)
			w := startWorkload(t, c.cgroup, c.container, port, nil)
			procs := map[string]*testutil.Proc{}
			for _, tool := range eventTools {
				procs[tool] = testutil.Start(t, append([]string{"-o", "json", tool}, c.filter(w)...)...)
			}
			// The other workload first: a filter that let it through
			// would show its row first.
			other.run(t)
			w.run(t)
			for _, tool := range eventTools {
				r := firstRow(t, procs[tool])
				if !mine[tool](r, w, port) {
					t.Errorf("%s: first row is not the workload's: %s", tool, r.Raw)
					continue
				}
				if str(r.Unit) != c.unit || str(r.ContainerID) != orNull(c.cid) || str(r.PodUID) != orNull(c.podUID) ||
					!strings.HasSuffix(str(r.Cgroup), "/"+c.cgroup) || r.MntNS != w.mntns || r.PidNS != w.pidns {
					t.Errorf("%s: unit %s, container %s, pod %s, cgroup %s, mntns %d, pidns %d; want %s, %s, %s, .../%s, %d, %d",
						tool, str(r.Unit), str(r.ContainerID), str(r.PodUID), str(r.Cgroup), r.MntNS, r.PidNS,
						c.unit, orNull(c.cid), orNull(c.podUID), c.cgroup, w.mntns, w.pidns)
				}
				if wantNsPID := map[bool]int{true: 1, false: r.PID}[c.container]; r.NsPID != wantNsPID || r.PID != w.cmd.Process.Pid {
					t.Errorf("%s: pid %d, ns_pid %d; want %d, %d", tool, r.PID, r.NsPID, w.cmd.Process.Pid, wantNsPID)
				}
				// Ancestors: the test process first (opensnoop collects
				// them only with --print-lineage).
				if tool == "opensnoop" {
					if r.Ancestors != nil {
						t.Errorf("opensnoop: ancestors without --print-lineage: %s", r.Raw)
					}
				} else if len(r.Ancestors) == 0 || r.Ancestors[0].PID != os.Getpid() || !strings.HasPrefix(r.Ancestors[0].ExecID, strconv.Itoa(os.Getpid())+":") {
					t.Errorf("%s: ancestors %+v, want this test (%d) first", tool, r.Ancestors, os.Getpid())
				}
				if tool == "unlinksnoop" {
					if str(r.Path) != w.hostFile || (c.container && str(r.Root) != w.root) || (!c.container && r.Root != nil) {
						t.Errorf("unlinksnoop: path %s, root %s; want %s, %q", str(r.Path), str(r.Root), w.hostFile, w.root)
					}
				}
			}
		})
	}
}

// TestCredentials: every event tool reports the uid and gid a workload runs
// as, and -u keeps that user's rows and leaves out root's.
func TestCredentials(t *testing.T) {
	testutil.RequirePrivileged(t)
	const uid, gid = 4321, 8765
	port := listener(t)
	other := startWorkload(t, "system.slice/other.service", false, port, nil)
	w := startWorkload(t, "system.slice/user.service", false, port, &syscall.Credential{Uid: uid, Gid: gid})
	procs := map[string]*testutil.Proc{}
	for _, tool := range eventTools {
		procs[tool] = testutil.Start(t, "-o", "json", tool, "-u", strconv.Itoa(uid))
	}
	other.run(t)
	w.run(t)
	for _, tool := range eventTools {
		r := firstRow(t, procs[tool])
		if !mine[tool](r, w, port) || r.PID != w.cmd.Process.Pid {
			t.Errorf("%s: first row is not the workload's: %s", tool, r.Raw)
			continue
		}
		if r.UID != uid || r.GID != gid {
			t.Errorf("%s: uid %d, gid %d; want %d, %d", tool, r.UID, r.GID, uid, gid)
		}
	}
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// TestLineage is the acceptance: bash -c 'sh -c "rm /tmp/x"' run
// from a process in backup.service; the row carries the unit and the
// ancestors sh, bash and the caller, with pids and exec_ids, captured in
// the kernel when rm ran, though every one of them has exited by the time
// the row is read. ("; true" keeps the shells from exec'ing their last
// command in place of forking it.)
func TestLineage(t *testing.T) {
	testutil.RequirePrivileged(t)
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	x := dir + "/x"
	os.WriteFile(x, nil, 0o644)
	_, fd := testutil.Cgroup(t, "system.slice/backup.service")
	p := testutil.Start(t, "-o", "json", "unlinksnoop", "--path", dir)
	text := testutil.Start(t, "unlinksnoop", "--path", dir, "--print-lineage", "--print-unit")
	// The test-kernels guests have no bash: their busybox sh then.
	outer := "bash"
	if _, err := exec.LookPath("bash"); err != nil {
		outer = "sh"
	}
	cmd := exec.Command(outer, "-c", `sh -c "rm `+x+`; true"; true`)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	r := firstRow(t, p)
	if str(r.Unit) != "backup.service" || r.Comm != "rm" || len(r.Ancestors) < 3 {
		t.Fatalf("row %s", r.Raw)
	}
	a := r.Ancestors
	if a[0].Comm != "sh" || a[1].Comm != outer || a[1].PID != cmd.Process.Pid || a[2].PID != os.Getpid() {
		t.Errorf("ancestors %+v, want sh, %s (%d), this test (%d)", a, outer, cmd.Process.Pid, os.Getpid())
	}
	for _, an := range a[:3] {
		if !strings.HasPrefix(an.ExecID, strconv.Itoa(an.PID)+":") {
			t.Errorf("ancestor %+v: exec_id not pid:start", an)
		}
	}
	l := text.WaitLine(t, func(l string) bool { return strings.HasSuffix(l, x) })
	if !strings.Contains(l, " backup.service ") || !strings.Contains(l, " rm<-sh<-"+outer+"<-") {
		t.Errorf("text row %q, want UNIT backup.service and LINEAGE rm<-sh<-%s<-...", l, outer)
	}
}

// TestTree: --tree PID follows processes born after the tool started:
// a shell started before forks a child, which forks the grandchild that
// execs; an exec outside the tree is not shown.
func TestTree(t *testing.T) {
	testutil.RequirePrivileged(t)
	sh := exec.Command("sh", "-c", "read x; (sh -c '/bin/echo grandchild; true'; true)")
	stdin, _ := sh.StdinPipe()
	sh.Stdout = io.Discard
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer sh.Wait()
	p := testutil.Start(t, "execsnoop", "--tree", strconv.Itoa(sh.Process.Pid))
	p.WaitLine(t, func(l string) bool { return strings.HasPrefix(l, "COMM") })
	exec.Command("/bin/echo", "outside").Run()
	stdin.Write([]byte("go\n"))
	stdin.Close()
	var rows []string
	for {
		l := p.WaitLine(t, func(string) bool { return true })
		rows = append(rows, l)
		if strings.HasSuffix(l, "/bin/echo grandchild") {
			break
		}
	}
	for _, l := range rows {
		if strings.Contains(l, "outside") {
			t.Errorf("exec outside the tree shown: %q", l)
		}
	}
}
