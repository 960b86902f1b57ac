package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// workloads do N operations as fast as one thread can and print ns/op.
// Every measured operation, and nothing else, carries the marker, so a
// tracer's rows for them can be counted in its output.
var workloads = map[string]func(n int, marker string) error{
	"openclose": func(n int, marker string) error {
		path := filepath.Join(os.TempDir(), marker)
		// mknod, not open: the file's creation is no open to count.
		if err := syscall.Mknod(path, syscall.S_IFREG|0o644, 0); err != nil {
			return err
		}
		defer os.Remove(path)
		for i := 0; i < n; i++ {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			f.Close()
		}
		return nil
	},
	"exec": func(n int, marker string) error {
		for i := 0; i < n; i++ {
			if err := exec.Command("/bin/true", marker, "arg-two").Run(); err != nil {
				return err
			}
		}
		return nil
	},
	"unlink": func(n int, marker string) error {
		dir, err := os.MkdirTemp("", "ebtbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		for i := 0; i < n; i++ {
			p := filepath.Join(dir, marker+strconv.Itoa(i))
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			f.Close()
			if err := os.Remove(p); err != nil {
				return err
			}
		}
		return nil
	},
	"tcp": func(n int, marker string) error {
		port, _ := strconv.Atoi(marker) // the marker is the server port
		ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return err
		}
		defer ln.Close()
		go func() {
			buf := make([]byte, 1000)
			reply := make([]byte, 5000)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.ReadFull(c, buf)
				c.Write(reply)
				c.Close()
			}
		}()
		req := make([]byte, 1000)
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp4", ln.Addr().String())
			if err != nil {
				return err
			}
			c.Write(req)
			io.Copy(io.Discard, c)
			c.Close()
		}
		return nil
	},
}

// markerEnv carries the marker, which must not appear in the workload's own
// command line (execsnoop would count it).
const markerEnv = "EBTBENCH_MARKER"

// runWorkload is the "workload NAME N" subcommand.
func runWorkload(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s=MARKER workload NAME N", markerEnv)
	}
	w := workloads[args[0]]
	n, err := strconv.Atoi(args[1])
	if w == nil || err != nil {
		return fmt.Errorf("workload %q %q: unknown workload or bad count", args[0], args[1])
	}
	start := time.Now()
	if err := w(n, os.Getenv(markerEnv)); err != nil {
		return err
	}
	fmt.Println(time.Since(start).Nanoseconds() / int64(n))
	return nil
}
