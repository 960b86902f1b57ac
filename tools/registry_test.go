package tools

import (
	"context"
	"testing"

	"github.com/urfave/cli/v2"

	ebrt "github.com/ebtools/ebtools/runtime"
)

type fake string

func (f fake) Name() string                                { return string(f) }
func (fake) Usage() string                                 { return "" }
func (fake) Examples() string                              { return "" }
func (fake) Flags() []cli.Flag                             { return nil }
func (fake) Program() ebrt.Program                         { return ebrt.Program{} }
func (fake) Run(context.Context, *cli.Context, *Env) error { return nil }

func TestRegister(t *testing.T) {
	old := registry
	defer func() { registry = old }()
	registry = map[string]Tool{}

	Register(fake("zeta"))
	Register(fake("alpha"))
	all := All()
	if len(all) != 2 || all[0].Name() != "alpha" || all[1].Name() != "zeta" {
		t.Errorf("All() = %v, want alpha, zeta", all)
	}
	for name, tool := range map[string]Tool{"duplicate": fake("alpha"), "nil": nil} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%v) did not panic", tool)
				}
			}()
			Register(tool)
		})
	}
}
