package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	id1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pod = "f1e2d3c4-b5a6-4789-9abc-def012345678"
)

func TestParse(t *testing.T) {
	podSys := strings.ReplaceAll(pod, "-", "_")
	tests := []struct {
		path string
		want Info
	}{
		{"/", Info{}},
		{"/init.scope", Info{Unit: "init.scope"}},
		{"/system.slice/cron.service", Info{Unit: "cron.service"}},
		{"/system.slice/backup.service/worker", Info{Unit: "backup.service"}},
		{"/user.slice/user-1000.slice/session-4.scope", Info{Unit: "session-4.scope"}},
		{"/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Info{Unit: "user@1000.service"}},
		{"/system.slice/docker-" + id1 + ".scope", Info{Unit: "docker-" + id1 + ".scope", ContainerID: id1, Runtime: "docker"}},
		{"/docker/" + id1, Info{ContainerID: id1, Runtime: "docker"}},
		{"/system.slice/cri-containerd-" + id1 + ".scope", Info{Unit: "cri-containerd-" + id1 + ".scope", ContainerID: id1, Runtime: "containerd"}},
		{"/machine.slice/libpod-" + id1 + ".scope", Info{Unit: "libpod-" + id1 + ".scope", ContainerID: id1, Runtime: "podman"}},
		{"/machine.slice/libpod-" + id1 + ".scope/container", Info{Unit: "libpod-" + id1 + ".scope", ContainerID: id1, Runtime: "podman"}},
		{"/machine.slice/libpod-conmon-" + id1 + ".scope", Info{Unit: "libpod-conmon-" + id1 + ".scope"}},
		{"/libpod_parent/libpod-" + id1, Info{ContainerID: id1, Runtime: "podman"}},
		{"/system.slice/crio-" + id1 + ".scope", Info{Unit: "crio-" + id1 + ".scope", ContainerID: id1, Runtime: "cri-o"}},
		{"/system.slice/crio-conmon-" + id1 + ".scope", Info{Unit: "crio-conmon-" + id1 + ".scope"}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podSys + ".slice/cri-containerd-" + id1 + ".scope",
			Info{Unit: "cri-containerd-" + id1 + ".scope", ContainerID: id1, Runtime: "containerd", PodUID: pod}},
		{"/kubepods.slice/kubepods-pod" + podSys + ".slice/crio-" + id1 + ".scope",
			Info{Unit: "crio-" + id1 + ".scope", ContainerID: id1, Runtime: "cri-o", PodUID: pod}},
		{"/kubepods/besteffort/pod" + pod + "/" + id1, Info{ContainerID: id1, Runtime: "kubernetes", PodUID: pod}},
		{"/kubepods/besteffort/pod" + pod, Info{Runtime: "kubernetes", PodUID: pod}},
		// Look-alikes: wrong length, upper case, not a UUID.
		{"/system.slice/docker-" + id1[:63] + ".scope", Info{Unit: "docker-" + id1[:63] + ".scope"}},
		{"/docker/" + strings.ToUpper(id1), Info{}},
		{"/kubepods/podnot-a-uuid/" + id1, Info{ContainerID: id1, Runtime: "kubernetes"}},
		{"/a.service.d/x", Info{}},
		{"/.service", Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			tt.want.Path = tt.path
			if got := Parse(tt.path); got != tt.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.path, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("/system.slice/docker-" + id1 + ".scope")
	f.Add("/kubepods/besteffort/pod" + pod + "/" + id1)
	f.Fuzz(func(t *testing.T, path string) {
		info := Parse(path)
		if info.ContainerID != "" && !strings.Contains(path, info.ContainerID) {
			t.Errorf("container id %q not in %q", info.ContainerID, path)
		}
		if info.Unit != "" && !strings.Contains(path, info.Unit) {
			t.Errorf("unit %q not in %q", info.Unit, path)
		}
	})
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("got %q", got)
	}
}

// TestResolver runs on a plain directory tree: the resolver only needs
// directories and their inode numbers.
func TestResolver(t *testing.T) {
	root := t.TempDir()
	mk := func(rel string) uint64 {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	cron := mk("system.slice/cron.service")
	now := time.Unix(1000, 0)
	r := NewResolver(root)
	r.now = func() time.Time { return now }
	if info := r.Lookup(cron); info == nil || info.Unit != "cron.service" || info.Path != "/system.slice/cron.service" {
		t.Fatalf("Lookup(cron) = %+v", info)
	}
	// A cgroup made later is found by a new walk, once rescanGap passed.
	dock := mk("system.slice/docker-" + id1 + ".scope")
	now = now.Add(rescanGap)
	if info := r.Lookup(dock); info == nil || info.ContainerID != id1 {
		t.Fatalf("Lookup(docker) = %+v", info)
	}
	// An id that no walk finds is remembered as gone: no walk for it again.
	now = now.Add(rescanGap)
	if info := r.Lookup(1 << 40); info != nil {
		t.Fatalf("Lookup(unknown) = %+v", info)
	}
	scanned := r.lastScan
	now = now.Add(rescanGap)
	r.Lookup(1 << 40)
	if r.lastScan != scanned {
		t.Error("a gone id made the resolver walk again")
	}
	if info := r.Lookup(cron); info == nil {
		t.Error("cron forgotten after later walks")
	}
}
