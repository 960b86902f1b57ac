package fspath

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ebtools/ebtools/output"
)

// The host of these tests: ext4 (254:0) at / with a bind mount of
// /srv/data at /mnt/bind, a tmpfs (0:50) at /run/t mounted twice, and a
// filesystem mounted only as a subdirectory bind (0:60, /sub at /opt/sub).
const mountinfo = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
45 27 254:0 /srv/data /mnt/bind rw,relatime shared:1 - ext4 /dev/vda rw
50 27 0:50 / /run/t rw - tmpfs tmpfs rw
51 27 0:50 / /run/t\040copy rw - tmpfs tmpfs rw
60 27 0:60 /sub /opt/sub rw - xfs /dev/vdb rw
`

// testMounts reads the table above from a file, as NewMounts reads
// /proc/1/mountinfo, so a reload on a slow machine rereads the same mounts.
func testMounts(t testing.TB) *Mounts {
	t.Helper()
	file := t.TempDir() + "/mountinfo"
	if err := writeFile(file, mountinfo); err != nil {
		t.Fatal(err)
	}
	return NewMounts(file)
}

const (
	ext4  = 254<<20 | 0
	tmpfs = 0<<20 | 50
	xfs   = 0<<20 | 60
)

func TestHostPath(t *testing.T) {
	h := NewHost(testMounts(t))
	tests := []struct {
		name, text, json string
		p                Path
		onHost           bool
	}{
		{"ext4 file", "/srv/data/f", "/srv/data/f", Path{FS: []byte("/srv/data/f"), Dev: ext4}, true},
		{"root itself", "/", "/", Path{FS: []byte("/"), Dev: ext4}, true},
		{"tmpfs: the first mount", "/run/t/a", "/run/t/a", Path{FS: []byte("/a"), Dev: tmpfs}, true},
		{"tmpfs root", "/run/t", "/run/t", Path{FS: []byte("/"), Dev: tmpfs}, true},
		{"reached only through a bind", "/opt/sub/x", "/opt/sub/x", Path{FS: []byte("/sub/x"), Dev: xfs}, true},
		{"outside the bind", "/other/x (not mounted on the host)", "/other/x", Path{FS: []byte("/other/x"), Dev: xfs}, false},
		{"unknown device", "/a (not mounted on the host)", "/a", Path{FS: []byte("/a"), Dev: 7<<20 | 7}, false},
		{"prefix is not a parent", "/subway (not mounted on the host)", "/subway", Path{FS: []byte("/subway"), Dev: xfs}, false},
		{"memfd", "memfd:sshd (deleted)", "memfd:sshd (deleted)", Path{FS: []byte("/memfd:sshd"), Flags: Detached | Deleted}, true},
		{"deleted exe", "/usr/bin/x (deleted)", "/usr/bin/x (deleted)", Path{FS: []byte("/usr/bin/x"), Dev: ext4, Flags: Deleted}, true},
		{"deep", ".../c/d/f", "/c/d/f", Path{FS: []byte("/c/d/f"), Dev: ext4, Flags: DirCut}, true},
		// Cut: not from the filesystem's root, so not put under its mount point.
		{"deep on tmpfs", ".../c/d/f", "/c/d/f", Path{FS: []byte("/c/d/f"), Dev: tmpfs, Flags: DirCut}, true},
		{"unresolved relative", "/srv/data/lnk/f (unresolved)", "/srv/data/lnk/f",
			Path{FS: []byte("/srv/data"), Arg: []byte("lnk/f"), Dev: ext4, Flags: Unresolved}, true},
		{"unresolved absolute", "/x/y (unresolved)", "/x/y", Path{FS: []byte("/"), Arg: []byte("/x/y"), Dev: ext4, Flags: Unresolved}, true},
		{"unresolved, argument cut", "/aaa... (unresolved)", "/aaa",
			Path{FS: []byte("/"), Arg: []byte("aaa"), Dev: ext4, Flags: Unresolved | ArgCut}, true},
		{"unreadable", "(unreadable)", "", Path{Flags: Unreadable}, true},
		{"newline in name", `/srv/a\nb`, "/srv/a\nb", Path{FS: []byte("/srv/a\nb"), Dev: ext4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, h, tt.p, output.Text); got != tt.text+"\n" {
				t.Errorf("text = %q, want %q", got, tt.text)
			}
			var j struct{ Path string }
			if err := json.Unmarshal([]byte(render(t, h, tt.p, output.JSON)), &j); err != nil || j.Path != tt.json {
				t.Errorf("JSON path = %q (%v), want %q", j.Path, err, tt.json)
			}
			if _, onHost := h.Append(nil, tt.p); onHost != tt.onHost {
				t.Errorf("on host = %v, want %v", onHost, tt.onHost)
			}
			// AppendText is what Set shows in text, escaping aside.
			if got := string(h.AppendText([]byte("x"), tt.p)); !strings.Contains(tt.text, `\n`) && got != "x"+tt.text {
				t.Errorf("AppendText = %q, want %q", got, "x"+tt.text)
			}
		})
	}
}

func render(t *testing.T, h *Host, p Path, format output.Format) string {
	t.Helper()
	var buf bytes.Buffer
	w := output.NewWriter(&buf)
	cols := []output.Column{{Header: "PATH", Key: "path"}}
	f := output.New(w, format, cols, output.Options{Clock: output.NewClockAt(time.Unix(0, 0), 0)})
	r := output.NewRow(1)
	r.Reset(0)
	h.Set(r, 0, 0, p)
	if err := f.Write(r); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return buf.String()
}

// TestMountsReload: a filesystem mounted after start is found, at most
// one reread per reloadGap.
func TestMountsReload(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/mountinfo"
	write := func(s string) {
		if err := writeFile(file, s); err != nil {
			t.Fatal(err)
		}
	}
	write("27 1 254:0 / / rw - ext4 /dev/vda rw\n")
	now := time.Unix(100, 0)
	m := &Mounts{file: file, now: func() time.Time { return now }}
	m.load()
	write("27 1 254:0 / / rw - ext4 /dev/vda rw\n70 27 0:70 / /new rw - tmpfs t rw\n")
	if _, ok := m.Host(nil, 70, []byte("/f")); ok {
		t.Fatal("found a mount within reloadGap of the last read")
	}
	now = now.Add(reloadGap)
	if b, ok := m.Host(nil, 70, []byte("/f")); !ok || string(b) != "/new/f" {
		t.Fatalf("after reloadGap: %q, %v", b, ok)
	}
	// A table that cannot be read keeps the mounts known so far.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	now = now.Add(reloadGap)
	if _, ok := m.Host(nil, 80, []byte("/f")); ok {
		t.Fatal("found a device in no table")
	}
	if b, ok := m.Host(nil, 254<<20, []byte("/f")); !ok || string(b) != "/f" {
		t.Fatalf("after a failed reread: %q, %v", b, ok)
	}
	if !m.loaded.Equal(now) {
		t.Fatalf("failed reread not timed: loaded %v, want %v", m.loaded, now)
	}
}

// TestHostPathSlowClock: lookups that miss, more than reloadGap apart,
// reread the table and still find what was mounted all along (the
// arm64 guest once lost its test table this way).
func TestHostPathSlowClock(t *testing.T) {
	m := testMounts(t)
	now := time.Unix(100, 0)
	m.now = func() time.Time { return now }
	h := NewHost(m)
	for i := 0; i < 3; i++ {
		now = now.Add(reloadGap)
		if _, onHost := h.Append(nil, Path{FS: []byte("/a"), Dev: 7<<20 | 7}); onHost {
			t.Fatal("unknown device on host")
		}
		now = now.Add(reloadGap)
		if b, onHost := h.Append(nil, Path{FS: []byte("/usr/bin/x"), Dev: ext4}); !onHost || string(b) != "/usr/bin/x" {
			t.Fatalf("round %d: %q, %v", i, b, onHost)
		}
	}
}

func TestDecode(t *testing.T) {
	rec := []byte("0123456789/srv/data/fname")
	good := Raw{Dev: ext4, Off: 10, Len: 9, ArgOff: 20, ArgLen: 5}
	p, err := Decode(rec, &good)
	if err != nil || string(p.FS) != "/srv/data" || string(p.Arg) != "fname" || p.Dev != ext4 {
		t.Fatalf("Decode = %+v, %v", p, err)
	}
	for _, bad := range []Raw{{Off: 20, Len: 6}, {ArgOff: 25, ArgLen: 1}, {Off: 0xffff, Len: 0xffff}} {
		if _, err := Decode(rec, &bad); err != errBounds {
			t.Errorf("Decode(%+v) = %v, want errBounds", bad, err)
		}
	}
	if p, err := Decode(rec, &Raw{}); err != nil || !p.Empty() {
		t.Errorf("zero path: %+v, %v", p, err)
	}
}

// FuzzDecode: any record and path decode or fail cleanly, and what decodes
// renders as one line of text and valid JSON.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("0123456789/srv/data/fname"), uint16(10), uint16(9), uint16(20), uint16(5), uint32(ext4), uint32(0))
	f.Add([]byte("a\nb\x1b"), uint16(0), uint16(4), uint16(0), uint16(0), uint32(0), uint32(Unresolved|ArgCut))
	f.Add([]byte{}, uint16(0), uint16(0), uint16(0), uint16(0), uint32(0), uint32(Unreadable|Detached|Deleted))
	h := NewHost(testMounts(f))
	f.Fuzz(func(t *testing.T, b []byte, off, n, argOff, argLen uint16, dev, flags uint32) {
		raw := Raw{Dev: dev, Flags: flags, Off: off, Len: n, ArgOff: argOff, ArgLen: argLen}
		p, err := Decode(b, &raw)
		if err != nil {
			return
		}
		text := render(t, h, p, output.Text)
		if strings.Count(text, "\n") != 1 || strings.ContainsAny(strings.TrimSuffix(text, "\n"), "\r\x1b\x00") {
			t.Fatalf("text not one clean line: %q", text)
		}
		if js := render(t, h, p, output.JSON); !json.Valid([]byte(js)) {
			t.Fatalf("invalid JSON %q", js)
		}
	})
}

func TestRawMatchesEvents(t *testing.T) {
	if unsafe.Sizeof(Raw{}) != 16 {
		t.Fatalf("struct ebt_path is %d bytes, want 16", unsafe.Sizeof(Raw{}))
	}
}

func TestAppendDev(t *testing.T) {
	if got := string(AppendDev(nil, 254<<20|3)); got != "254:3" {
		t.Errorf("AppendDev = %q", got)
	}
}
