package output

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendText(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		quote bool
		want  string
	}{
		{"plain", "/usr/bin/ls -la", false, "/usr/bin/ls -la"},
		{"newline", "a\nb", false, `a\nb`},
		{"tab and cr", "a\tb\rc", false, `a\tb\rc`},
		{"escape sequence", "\x1b[31mred", false, `\x1b[31mred`},
		{"nul and del", "\x00\x7f", false, `\x00\x7f`},
		{"backslash", `C:\dir`, false, `C:\\dir`},
		{"quote unquoted", `say "hi"`, false, `say "hi"`},
		{"quote quoted", `say "hi"`, true, `say \"hi\"`},
		{"invalid utf-8", "a\xffb\xc3", false, `a\xffb\xc3`},
		{"valid utf-8", "héllo wörld ✓", false, "héllo wörld ✓"},
		{"c1 control", "a\u009bb", false, `a\u009bb`},
		{"bidi override", "evil\u202etxt.exe", false, `evil\u202etxt.exe`},
		{"line separator", "a\u2028b", false, `a\u2028b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendText(nil, []byte(tt.in), tt.quote)); got != tt.want {
				t.Errorf("AppendText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "abc", `"abc"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"controls", "a\nb\x1b\x00\x7f", `"a\nb\u001b\u0000\u007f"`},
		{"invalid utf-8", "a\xffb", `"a\ufffdb"`},
		{"unicode kept", "✓é", `"✓é"`},
		{"bidi escaped", "\u202e", `"\u202e"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendJSONString(nil, []byte(tt.in))); got != tt.want {
				t.Errorf("AppendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzAppendText: the result is one line of printable, valid UTF-8 text.
func FuzzAppendText(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\x1b[2J", "\xff\xfe", "\u202e", `"\`} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, quote bool) {
		out := AppendText(nil, in, quote)
		if !utf8.Valid(out) {
			t.Fatalf("invalid UTF-8 out of %q: %q", in, out)
		}
		for _, r := range string(out) {
			if r < 0x20 || r == 0x7f || deceptive(r) {
				t.Fatalf("unescaped %U out of %q: %q", r, in, out)
			}
		}
	})
}

// FuzzAppendJSONString: the result is a valid JSON string that decodes to
// the input whenever the input is valid UTF-8.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\nb", "\x1b", "\xff", "\u2028", `"\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := AppendJSONString(nil, in)
		var s string
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("invalid JSON %q out of %q: %v", out, in, err)
		}
		if utf8.Valid(in) && s != string(in) {
			t.Fatalf("round trip of %q gave %q", in, s)
		}
		if strings.ContainsAny(string(out), "\n\r\x1b") {
			t.Fatalf("raw control character in %q", out)
		}
	})
}
