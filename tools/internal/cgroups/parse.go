// Package cgroups says which service or container a cgroup v2 id belongs
// to, from the cgroup's path alone: no container runtime socket, no
// Kubernetes API.
//
//	r := cgroups.NewResolver(cgroups.Mountpoint())
//	info := r.Lookup(id) // Path "/system.slice/cron.service", Unit "cron.service"
package cgroups

import "strings"

// Info is what a cgroup path says about the processes in it. Fields the
// path does not tell are "".
type Info struct {
	// Path is the cgroup's path below the cgroup v2 root, "/" for the root.
	Path string
	// Unit is the outermost systemd unit that is not a slice:
	// "cron.service", "session-4.scope", "user@1000.service".
	Unit string
	// ContainerID is the container's id as its runtime names it (64 hex
	// digits for docker, containerd, CRI-O and podman).
	ContainerID string
	// Runtime is the container runtime the path's layout belongs to:
	// docker, containerd, cri-o, podman, or kubernetes when only the
	// kubelet's layout tells.
	Runtime string
	// PodUID is the Kubernetes pod's UID, where the path carries it.
	PodUID string
}

// unitSuffixes are the systemd unit types whose cgroups hold processes.
var unitSuffixes = []string{".service", ".scope", ".socket", ".mount", ".swap"}

// scopePrefixes map the systemd scope names of container runtimes to the
// runtime; the id follows the prefix. conmon's own scopes are not containers.
var scopePrefixes = []struct{ prefix, runtime string }{
	{"docker-", "docker"},
	{"cri-containerd-", "containerd"},
	{"crio-", "cri-o"},
	{"libpod-", "podman"},
}

// Parse reads a cgroup path (as in /proc/PID/cgroup, "0::" removed).
func Parse(path string) Info {
	info := Info{Path: path}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, p := range parts {
		if info.Unit == "" && isUnit(p) {
			info.Unit = p
		}
		if uid := podUID(p); uid != "" {
			info.PodUID = uid
		}
		if id, rt := containerOf(parts, i); id != "" {
			// The deepest wins: podman's split layout puts the
			// container's processes in libpod-ID.scope/container.
			info.ContainerID, info.Runtime = id, rt
		}
	}
	if info.ContainerID == "" && info.PodUID != "" {
		info.Runtime = "kubernetes"
	}
	return info
}

func isUnit(p string) bool {
	for _, s := range unitSuffixes {
		if strings.HasSuffix(p, s) && len(p) > len(s) {
			return true
		}
	}
	return false
}

// containerOf returns the container id named by parts[i] and its runtime.
func containerOf(parts []string, i int) (id, runtime string) {
	p := parts[i]
	if name, ok := strings.CutSuffix(p, ".scope"); ok {
		for _, sp := range scopePrefixes {
			if rest, ok := strings.CutPrefix(name, sp.prefix); ok && isID(rest) {
				return rest, sp.runtime
			}
		}
		return "", ""
	}
	// cgroupfs layouts: /docker/ID, /libpod_parent/libpod-ID,
	// /kubepods/QOS/podUID/ID, /kubepods/.../crio-ID.
	for _, sp := range scopePrefixes {
		if rest, ok := strings.CutPrefix(p, sp.prefix); ok && isID(rest) {
			return rest, sp.runtime
		}
	}
	if !isID(p) || i == 0 {
		return "", ""
	}
	switch parent := parts[i-1]; {
	case parent == "docker":
		return p, "docker"
	case strings.HasPrefix(parent, "pod"):
		return p, "kubernetes"
	}
	return p, ""
}

// isID reports a container id: 64 lowercase hex digits.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// podUID returns the pod UID of a kubelet cgroup name: "pod<uid>" with
// cgroupfs, "kubepods[-<qos>]-pod<uid with _ for ->.slice" with systemd.
func podUID(p string) string {
	if name, ok := strings.CutSuffix(p, ".slice"); ok && strings.HasPrefix(name, "kubepods-") {
		if _, uid, ok := strings.Cut(name, "-pod"); ok && isUUID(strings.ReplaceAll(uid, "_", "-")) {
			return strings.ReplaceAll(uid, "_", "-")
		}
		return ""
	}
	if uid, ok := strings.CutPrefix(p, "pod"); ok && isUUID(uid) {
		return uid
	}
	return ""
}

// isUUID reports the 8-4-4-4-12 hex form of a pod UID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
