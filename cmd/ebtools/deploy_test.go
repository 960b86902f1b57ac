package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/yaml"

	"github.com/ebtools/ebtools/deploy"
	"github.com/ebtools/ebtools/internal/testutil"
	ebrt "github.com/ebtools/ebtools/runtime"
	"github.com/ebtools/ebtools/tools"
)

// unit is a systemd unit file: each key's values in order, by section.
type unit map[string]map[string][]string

// parseUnit reads a unit file or drop-in (no line continuations).
func parseUnit(t *testing.T, name string) unit {
	t.Helper()
	b, err := deploy.Files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[' && l[len(l)-1] == ']':
			section = l[1 : len(l)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value in a section: %q", name, n, l)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// merge returns u with the drop-in d applied: an empty value resets a
// list, as systemd does for the keys used here.
func (u unit) merge(d unit) unit {
	m := unit{}
	for _, src := range []unit{u, d} {
		for s, kv := range src {
			if m[s] == nil {
				m[s] = map[string][]string{}
			}
			for k, vs := range kv {
				for _, v := range vs {
					if v == "" {
						m[s][k] = nil
						continue
					}
					m[s][k] = append(m[s][k], v)
				}
			}
		}
	}
	return m
}

// service returns the template unit with tool's drop-in.
func service(t *testing.T, tool string) unit {
	t.Helper()
	return parseUnit(t, "systemd/ebtools@.service").merge(parseUnit(t, "systemd/ebtools@"+tool+".service.d/ebtools.conf"))
}

// capSet returns the capabilities of a unit's list, sorted by name.
func capSet(t *testing.T, values []string) []string {
	t.Helper()
	var caps []string
	for _, v := range values {
		caps = append(caps, strings.Fields(v)...)
	}
	sort.Strings(caps)
	return caps
}

func capNamesOf(caps []ebrt.Capability) []string {
	var names []string
	for _, c := range caps {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return names
}

// environment returns the Environment= assignments of u.
func environment(u unit) map[string]string {
	env := map[string]string{}
	for _, v := range u["Service"]["Environment"] {
		for _, a := range strings.Fields(v) {
			k, val, _ := strings.Cut(a, "=")
			env[k] = val
		}
	}
	return env
}

var unitVar = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// execStart returns the command line of u's ExecStart= for instance tool,
// as systemd expands it: %i, %L (logs, the log directory's parent),
// ${VAR} as one word, $VAR split into words.
func execStart(t *testing.T, u unit, tool, logs string, env map[string]string) []string {
	t.Helper()
	lines := u["Service"]["ExecStart"]
	if len(lines) != 1 {
		t.Fatalf("ExecStart: %q, want one", lines)
	}
	line := strings.NewReplacer("%i", tool, "%L", logs).Replace(lines[0])
	var args []string
	for _, w := range strings.Fields(line) {
		if m := unitVar.FindStringSubmatch(w); m != nil && m[0] == w {
			if m[1] != "" {
				args = append(args, env[m[1]])
			} else {
				args = append(args, strings.Fields(env[m[2]])...)
			}
			continue
		}
		if strings.Contains(w, "$") {
			t.Fatalf("ExecStart word %q: a variable inside a word", w)
		}
		args = append(args, w)
	}
	return args
}

// checkArgs fails t unless args (after the program name) are flags and a
// tool the binary has, each flag known to it, the tool being want.
func checkArgs(t *testing.T, where string, args []string, want string) {
	t.Helper()
	app := newApp(os.Stdout, os.Stderr)
	norm := normalizeArgs(app, append([]string{"ebtools"}, args...))
	flags := app.Flags
	tool := ""
	for i := 1; i < len(norm); i++ {
		a := norm[i]
		switch {
		case a == "--":
			i = len(norm)
		case isFlag(a):
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			f := findFlag(flags, name)
			if f == nil && tool != "" {
				f = findFlag(app.Flags, name) // global flags after the tool
			}
			if f == nil {
				t.Errorf("%s: flag %s: ebtools %s has no such flag", where, a, tool)
				continue
			}
			if takesValue(f) && !strings.Contains(a, "=") {
				i++
			}
		case tool == "":
			tool = a
			cmd := app.Command(a)
			if cmd == nil {
				t.Fatalf("%s: %q is no ebtools tool", where, a)
			}
			flags = cmd.Flags
		}
	}
	if tool != want {
		t.Errorf("%s: runs tool %q, want %q", where, tool, want)
	}
	// The flags' values parse, as the tool would parse them.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// Without the positional arguments, which help would take for topics.
	if i := slices.Index(norm, "--"); i > 0 {
		norm = norm[:i]
	}
	help := slices.Insert(slices.Clone(norm), slices.Index(norm, tool)+1, "--help")
	if err := newApp(null, null).Run(help); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

// TestSystemdUnits: every tool has a drop-in for ebtools@.service, whose
// capabilities (ambient and bounding) are exactly the ones the tool was
// measured to need (leastPrivilege), the flags of ExecStart exist, each
// tool has a metrics port of its own, and the service is read-only.
func TestSystemdUnits(t *testing.T) {
	ports := map[string]string{}
	for _, tool := range tools.All() {
		name := tool.Name()
		lp, ok := leastPrivilege[name]
		if !ok {
			t.Fatalf("%s has no entry in leastPrivilege", name)
		}
		u := service(t, name)
		want := capNamesOf(lp.caps)
		for _, key := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
			if got := capSet(t, u["Service"][key]); !slices.Equal(got, want) {
				t.Errorf("ebtools@%s: %s %v, want exactly %v", name, key, got, want)
			}
		}
		env := environment(u)
		addr := env["EBTOOLS_METRICS"]
		if other, dup := ports[addr]; dup || addr == "" {
			t.Errorf("ebtools@%s: metrics address %q (also %s's)", name, addr, other)
		}
		ports[addr] = name
		env["EBTOOLS_ARGS"] = map[string]string{"ipcount": "eth1"}[name]
		args := execStart(t, u, name, "/var/log", env)
		if args[0] != "/usr/local/bin/ebtools" {
			t.Errorf("ExecStart runs %s", args[0])
		}
		checkArgs(t, "ebtools@"+name, args[1:], name)
		for k, v := range map[string]string{"DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes",
			"LogsDirectory": "ebtools", "ProtectHome": "yes"} {
			if got := u["Service"][k]; !slices.Equal(got, []string{v}) {
				t.Errorf("ebtools@%s: %s=%v, want %s", name, k, got, v)
			}
		}
	}
	if !slices.Contains(execStart(t, service(t, "execsnoop"), "execsnoop", "/var/log", environment(service(t, "execsnoop"))), "--metrics") {
		t.Error("ExecStart without --metrics")
	}
}

// TestSystemdAnalyze runs systemd-analyze verify on each instance, the
// unit's binary path pointed at the test's ebtools (verify checks that it
// exists). A test-kernels guest has no systemd: there the unit is checked
// by TestSystemdUnits and TestSystemdUnitRuns only, and this says so.
func TestSystemdAnalyze(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("EBTOOLS_BINARY") == "" {
			t.Fatal("no systemd-analyze: apt-get install systemd (.ci/run does)")
		}
		t.Log("test-kernels guest without systemd: the units are checked by TestSystemdUnits and TestSystemdUnitRuns")
		return
	}
	dir := t.TempDir()
	bin := testutil.Binary(t)
	entries, err := deploy.Files.ReadDir("systemd")
	if err != nil {
		t.Fatal(err)
	}
	var instances []string
	for _, e := range entries {
		src := "systemd/" + e.Name()
		if !e.IsDir() {
			b, _ := deploy.Files.ReadFile(src)
			os.WriteFile(filepath.Join(dir, e.Name()), []byte(strings.ReplaceAll(string(b), "/usr/local/bin/ebtools", bin)), 0o644)
			continue
		}
		os.Mkdir(filepath.Join(dir, e.Name()), 0o755)
		b, _ := deploy.Files.ReadFile(src + "/ebtools.conf")
		os.WriteFile(filepath.Join(dir, e.Name(), "ebtools.conf"), b, 0o644)
		instances = append(instances, filepath.Join(dir, strings.TrimSuffix(e.Name(), ".d")))
	}
	if len(instances) != len(tools.All()) {
		t.Fatalf("%d drop-ins, want one per tool (%d)", len(instances), len(tools.All()))
	}
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, instances...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze verify: %d instances clean", len(instances))
}

// TestKubernetesManifest: the DaemonSets parse; each runs one tool with
// flags the binary has, with exactly that tool's capabilities and all
// others dropped, not privileged, with host PIDs, read-only mounts of what
// BTF, tracefs and cgroups need, and scrape annotations that name the
// port its --metrics listens on.
func TestKubernetesManifest(t *testing.T) {
	b, err := deploy.Files.ReadFile("kubernetes/ebtools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type container struct {
		Name  string
		Args  []string
		Ports []struct {
			ContainerPort int `json:"containerPort"`
		}
		SecurityContext struct {
			Privileged               *bool
			AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `json:"readOnlyRootFilesystem"`
			Capabilities             struct{ Add, Drop []string }
		} `json:"securityContext"`
		VolumeMounts []struct {
			Name      string
			MountPath string `json:"mountPath"`
			ReadOnly  bool   `json:"readOnly"`
		} `json:"volumeMounts"`
	}
	type doc struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			Template struct {
				Metadata struct{ Annotations map[string]string }
				Spec     struct {
					HostPID    bool `json:"hostPID"`
					Containers []container
					Volumes    []struct {
						Name     string
						HostPath struct{ Path string } `json:"hostPath"`
					}
				}
			}
		}
	}
	daemonsets := 0
	for i, part := range strings.Split(string(b), "\n---\n") {
		var d doc
		if err := yaml.Unmarshal([]byte(part), &d); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		if d.Kind != "DaemonSet" {
			continue
		}
		daemonsets++
		name := d.Metadata.Name
		pod := d.Spec.Template.Spec
		if !pod.HostPID {
			t.Errorf("%s: hostPID is not set", name)
		}
		hostPaths := map[string]string{}
		for _, v := range pod.Volumes {
			hostPaths[v.Name] = v.HostPath.Path
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: %d containers, want one (one metrics port per pod)", name, len(pod.Containers))
		}
		c := pod.Containers[0]
		tool := c.Args[len(c.Args)-1]
		checkArgs(t, name, c.Args, c.Name)
		lp, ok := leastPrivilege[tool]
		if !ok {
			t.Fatalf("%s: no leastPrivilege entry for %q", name, tool)
		}
		var want []string
		for _, n := range capNamesOf(lp.caps) {
			want = append(want, strings.TrimPrefix(n, "CAP_"))
		}
		add := slices.Sorted(slices.Values(c.SecurityContext.Capabilities.Add))
		if !slices.Equal(add, want) || !slices.Equal(c.SecurityContext.Capabilities.Drop, []string{"ALL"}) {
			t.Errorf("%s: capabilities add %v drop %v, want add exactly %v, drop ALL", name, add, c.SecurityContext.Capabilities.Drop, want)
		}
		sc := c.SecurityContext
		if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: want privileged and allowPrivilegeEscalation false, readOnlyRootFilesystem true", name)
		}
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			if !m.ReadOnly {
				t.Errorf("%s: %s is mounted writable", name, m.MountPath)
			}
			mounts[m.MountPath] = hostPaths[m.Name]
		}
		for _, p := range []string{"/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/cgroup"} {
			if mounts[p] != p {
				t.Errorf("%s: %s mounted from the host's %q, want its %s", name, p, mounts[p], p)
			}
		}
		ann := d.Spec.Template.Metadata.Annotations
		i := slices.Index(c.Args, "--metrics")
		if i < 0 || i+1 >= len(c.Args) {
			t.Fatalf("%s: no --metrics", name)
		}
		port := c.Args[i+1][strings.LastIndexByte(c.Args[i+1], ':')+1:]
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: annotations %v, want prometheus.io/scrape true, port %s, path /metrics", name, ann, port)
		}
		if len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port {
			t.Errorf("%s: container ports %v, want %s", name, c.Ports, port)
		}
	}
	if daemonsets == 0 {
		t.Fatal("no DaemonSet in the manifest")
	}
}

// TestContainerfile: the image is FROM scratch and holds the binary
// built as make build builds it (static: CGO_ENABLED=0), as entry point.
func TestContainerfile(t *testing.T) {
	b, err := deploy.Files.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, runs []string
	entry := ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "FROM":
			froms = append(froms, f[1])
		case "RUN":
			runs = append(runs, l)
		case "ENTRYPOINT":
			entry = strings.Join(f[1:], " ")
		}
	}
	if len(froms) == 0 || froms[len(froms)-1] != "scratch" {
		t.Errorf("the image is FROM %v, want scratch last", froms)
	}
	built := false
	for _, r := range runs {
		built = built || strings.Contains(r, "CGO_ENABLED=0 go build") && strings.Contains(r, "-o /ebtools ./cmd/ebtools")
	}
	if !built || entry != `["/ebtools"]` {
		t.Errorf("want a static build (CGO_ENABLED=0 go build -o /ebtools ./cmd/ebtools) and ENTRYPOINT [\"/ebtools\"]; RUN %q, ENTRYPOINT %s", runs, entry)
	}
	goMod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		return // a test-kernels guest has the test binary, not the module
	}
	var want string
	fmt.Sscanf(string(goMod[strings.Index(string(goMod), "\ngo ")+1:]), "go %s", &want)
	if !strings.HasPrefix(froms[0], "docker.io/library/golang:") || !strings.HasPrefix(want, strings.TrimPrefix(froms[0], "docker.io/library/golang:")) {
		t.Errorf("builder %s, want the Go of go.mod (%s)", froms[0], want)
	}
}

// TestSystemdUnitRuns starts each tool as its unit says: ExecStart as
// systemd expands it for the instance (EBTOOLS_ARGS and EBTOOLS_METRICS as
// an /etc/ebtools/TOOL.env would set them: the workload's filters, a free
// port), as an unprivileged user with no groups (as DynamicUser= makes one)
// holding exactly the ambient capabilities of its drop-in. It must attach,
// append the workload's event to its output file as JSON and serve
// ebtools_up 1. (The rest of the unit's sandbox is systemd's: see
// TestSystemdAnalyze.)
func TestSystemdUnitRuns(t *testing.T) {
	testutil.RequirePrivileged(t)
	setPerfParanoid(t, 2)
	ensureTracefs(t)
	for name, tc := range leastPrivilege {
		t.Run(name, func(t *testing.T) {
			u := service(t, name)
			var caps []ebrt.Capability
			for _, n := range capSet(t, u["Service"]["AmbientCapabilities"]) {
				i := slices.IndexFunc(tc.caps, func(c ebrt.Capability) bool { return c.Name == n })
				if i < 0 {
					t.Fatalf("the drop-in grants %s, which %s does not need", n, name)
				}
				caps = append(caps, tc.caps[i])
			}
			w := tc.work(t)
			// %L: where the unprivileged user may reach its directory.
			logs, err := os.MkdirTemp("", "ebtools-unit-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(logs) })
			if err := os.Chmod(logs, 0o755); err != nil {
				t.Fatal(err)
			}
			logDir := filepath.Join(logs, "ebtools") // LogsDirectory=ebtools
			if err := os.Mkdir(logDir, 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(logDir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			env := environment(u)
			env["EBTOOLS_METRICS"] = "127.0.0.1:0"
			env["EBTOOLS_ARGS"] = strings.Join(w.args[1:], " ")
			args := execStart(t, u, name, logs, env)
			if w.args[0] != name {
				t.Fatalf("workload of %s runs %s", name, w.args[0])
			}
			cmd := asNobody(t, caps, args[1:]...)
			p := testutil.StartCmd(t, cmd)
			m := metricsURL.FindStringSubmatch(p.Stderr())
			if m == nil {
				t.Fatalf("no metrics endpoint in the log:\n%s", p.Stderr())
			}
			w.trigger(t)
			out := filepath.Join(logDir, name+".json")
			line := waitFileLine(t, out, w.jsonMatches)
			t.Logf("as ebtools@%s with %s: %s", name, capList(caps), line)
			mfs := parseExposition(t, scrape(t, m[1]))
			if up := mfs["ebtools_up"].GetMetric(); len(up) != 1 || up[0].GetGauge().GetValue() != 1 {
				t.Errorf("ebtools_up: %v, want 1", up)
			}
			if _, code := p.Stop(t, unix.SIGTERM); code != 0 {
				t.Errorf("exit %d\n%s", code, p.Stderr())
			}
		})
	}
}

// waitFileLine waits until the file at path has a line that matches,
// and fails t if every line is not one valid JSON object.
func waitFileLine(t *testing.T, path string, match func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(testutil.Timeout)
	for {
		b, _ := os.ReadFile(path)
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasSuffix(l, "\n") {
				break // being written
			}
			if !json.Valid([]byte(l)) {
				t.Fatalf("%s: not a JSON line: %q", path, l)
			}
			if match(l) {
				return strings.TrimSpace(l)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no matching line within %v; it holds:\n%s", path, testutil.Timeout, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
