package testutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/urfave/cli/v2"
)

// OneLine fails t unless out is empty (a filtered record) or
// exactly one line free of raw control characters, and, with isJSON, one
// valid JSON object: what every formatter promises for any input.
func OneLine(t testing.TB, out []byte, isJSON bool) {
	t.Helper()
	if len(out) == 0 {
		return
	}
	if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
		t.Fatalf("not exactly one line: %q", out)
	}
	for _, c := range out[:len(out)-1] {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("raw control byte %#x in %q", c, out)
		}
	}
	if isJSON && !json.Valid(out) {
		t.Fatalf("invalid JSON: %q", out)
	}
}

// OneEvent checks what a handler did with one raw event: it returned an
// error wrapping malformed (the runtime's ErrMalformed: the event is
// dropped and counted) and printed nothing, or it returned nil and printed
// at most one line (OneLine). Any other error fails the test.
func OneEvent(t testing.TB, err, malformed error, out []byte, isJSON bool) {
	t.Helper()
	switch {
	case errors.Is(err, malformed):
		if len(out) != 0 {
			t.Fatalf("malformed event (%v) printed %q", err, out)
		}
	case err != nil:
		t.Fatal(err)
	default:
		OneLine(t, out, isJSON)
	}
}

// Parse runs parse on args given to a command with flags, as the tool's
// subcommand would (short options may be combined).
func Parse[C any](t testing.TB, flags []cli.Flag, args []string, parse func(*cli.Context) (C, error)) (C, error) {
	t.Helper()
	var cfg C
	var perr error
	app := &cli.App{Flags: flags, UseShortOptionHandling: true, Action: func(c *cli.Context) error {
		cfg, perr = parse(c)
		return nil
	}}
	if err := app.Run(append([]string{"tool"}, args...)); err != nil {
		t.Fatalf("flag parsing: %v", err)
	}
	return cfg, perr
}

// ParseFlags parses args as a tool's subcommand would (short options may be
// combined), into the flags' Destinations, and returns what the parsing or
// a flag's Action returned.
func ParseFlags(t testing.TB, flags []cli.Flag, args []string) error {
	t.Helper()
	var perr error
	app := &cli.App{Flags: flags, UseShortOptionHandling: true,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { perr = err; return err },
		Action:       func(*cli.Context) error { return nil }}
	if err := app.Run(append([]string{"tool"}, args...)); err != nil && perr == nil {
		return err
	}
	return perr
}
