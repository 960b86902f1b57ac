package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	ebrt "github.com/ebtools/ebtools/runtime"
)

// The floor rows: programs that do nothing (bpf/floor.bpf.c) on the
// tracepoints opensnoop uses, so that every run shows what being attached
// there costs before any work is done, at the syscalls' exit alone and at
// entry and exit. It runs as "floor exit" or "floor pair", prints "floor
// attached" on stderr once attached and runs until SIGINT.
func floorTracer(hooks string) tracer {
	return tracer{
		name:  "floor: empty programs, " + map[string]string{"exit": "exit only", "pair": "entry + exit"}[hooks],
		args:  func(string) []string { return []string{self, "floor", hooks} },
		ready: func(_, stderr []byte) bool { return string(stderr) == "floor attached\n" },
		floor: true,
	}
}

// floorSyscalls are opensnoop's syscalls; those this kernel lacks (open on
// arm64) are skipped, as opensnoop skips them.
var floorSyscalls = []string{"open", "openat", "openat2"}

// runFloor is the "floor exit|pair" subcommand.
func runFloor(args []string) error {
	if len(args) != 1 || (args[0] != "exit" && args[0] != "pair") {
		return fmt.Errorf("usage: floor exit|pair")
	}
	if _, _, err := ebrt.Tracefs(); err != nil {
		return err
	}
	var objs floorObjects
	if err := loadFloorObjects(&objs, nil); err != nil {
		return fmt.Errorf("load floor programs: %w", err)
	}
	defer objs.Close()
	var links []link.Link
	defer func() {
		for _, l := range links {
			l.Close()
		}
	}()
	attach := func(name string, p *ebpf.Program) error {
		l, err := link.Tracepoint("syscalls", name, p, nil)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("attach %s: %w", name, err)
		}
		links = append(links, l)
		return nil
	}
	for _, sc := range floorSyscalls {
		if err := attach("sys_exit_"+sc, objs.FloorExit); err != nil {
			return err
		}
		if args[0] == "pair" {
			if err := attach("sys_enter_"+sc, objs.FloorEnter); err != nil {
				return err
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Fprintln(os.Stderr, "floor attached")
	<-sig
	return nil
}
