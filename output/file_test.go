package output

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestFileReopen: lines written through a Writer while the file is
// renamed and reopened over and over, as logrotate does, end up each
// exactly once and whole in one of the files; lines longer than a write
// chunk included.
func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.log")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(f)
	const lines, rotations = 200000, 100
	// A rotation every lines/rotations lines, while the writer writes.
	rotate := make(chan struct{}, rotations)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < rotations; i++ {
			<-rotate
			if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i)); err != nil {
				t.Error(err)
				return
			}
			if err := f.Reopen(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	pad := strings.Repeat("x", 3*chunkSize)
	for i := 0; i < lines; i++ {
		line := strconv.Itoa(i) + " " + strconv.Itoa(i) + "\n"
		if i%1000 == 0 {
			line = strconv.Itoa(i) + " " + pad + " " + strconv.Itoa(i) + "\n"
		}
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if i%(lines/rotations) == 0 {
			rotate <- struct{}{}
		}
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	files, _ := filepath.Glob(path + "*")
	if len(files) != rotations+1 {
		t.Fatalf("%d files, want %d", len(files), rotations+1)
	}
	seen := make([]int, lines)
	for _, name := range files {
		r, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			n, err := strconv.Atoi(fs[0])
			if err != nil || fs[len(fs)-1] != fs[0] || n >= lines {
				t.Fatalf("%s: broken line %.80q", name, sc.Text())
			}
			seen[n]++
		}
		r.Close()
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("line %d written %d times", i, n)
		}
	}
}

// TestFileReopenFails: when the path cannot be opened again, the open
// file stays in use.
func TestFileReopenFails(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "logs")
	os.Mkdir(sub, 0o755)
	f, err := OpenFile(filepath.Join(sub, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(sub, filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := f.Reopen(); err == nil {
		t.Fatal("Reopen in a directory that is gone succeeded")
	}
	f.Write([]byte("still here\n"))
	if b, _ := os.ReadFile(filepath.Join(dir, "moved", "events.log")); string(b) != "still here\n" {
		t.Fatalf("the open file has %q", b)
	}
}
