// Package runtime loads, attaches and runs one tool's BPF program: it checks
// privileges and kernel BTF, mounts tracefs when the machine booted without
// it, picks for every hook the best attach method this kernel has (pruning
// hooks it lacks), sets the tool's filter constants, and streams events from
// the ring buffer (or a perf buffer on kernels before 5.8) to a Handler while
// accounting for every event the kernel side could not deliver.
//
// It holds nothing tool-specific. Import it as ebrt:
//
//	import ebrt "github.com/ebtools/ebtools/runtime"
//
//	s, err := ebrt.Start(ctx, prog, ebrt.Options{Logger: log, Constants: c})
//	if err != nil { return err }
//	defer s.Close()
//	return s.Run(ctx, handler)
package runtime
