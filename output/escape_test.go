package output

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
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
		{"paragraph separator", "a\u2029b", false, `a\u2029b`},
		{"zero width space", "/etc/pass\u200bwd", false, `/etc/pass\u200bwd`},
		{"byte order mark", "\ufeffname", false, `\ufeffname`},
		{"soft hyphen", "pass\u00adwd", false, `pass\u00adwd`},
		{"arabic letter mark", "a\u061cb", false, `a\u061cb`},
		{"word joiner", "a\u2060b", false, `a\u2060b`},
		{"tag character", "a\U000e0041b", false, `a\U000e0041b`},
		{"spaces kept", "a b\u00a0c", false, "a b\u00a0c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendText(nil, []byte(tt.in), tt.quote)); got != tt.want {
				t.Errorf("AppendText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAppendField(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "bash", "bash"},
		{"space", "x 1 2 3", `x\x201\x202\x203`},
		{"tab", "a\tb", `a\tb`},
		{"no-break space", "a\u00a0b", `a\u00a0b`},
		{"em space", "a\u2003b", `a\u2003b`},
		{"ideographic space", "a\u3000b", `a\u3000b`},
		{"backslash x20 stays distinct", `a\x20b`, `a\\x20b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendField(nil, []byte(tt.in), false))
			if got != tt.want {
				t.Errorf("AppendField(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if f := strings.Fields(got); len(f) != 1 {
				t.Errorf("AppendField(%q) = %q: %d fields", tt.in, got, len(f))
			}
		})
	}
}

// eachRune calls f for every rune of the range tables.
func eachRune(tables []*unicode.RangeTable, f func(rune)) {
	for _, tab := range tables {
		for _, r16 := range tab.R16 {
			for r := rune(r16.Lo); r <= rune(r16.Hi); r += rune(r16.Stride) {
				f(r)
			}
		}
		for _, r32 := range tab.R32 {
			for r := rune(r32.Lo); r <= rune(r32.Hi); r += rune(r32.Stride) {
				f(r)
			}
		}
	}
}

// TestHiddenCategories walks every rune of Go's tables of Unicode's format
// characters (Cf), line and paragraph separators (Zl, Zp), bidi controls
// and C1 controls: each is escaped in text, and in JSON escaped too and
// decoded back to itself.
func TestHiddenCategories(t *testing.T) {
	c1 := &unicode.RangeTable{R16: []unicode.Range16{{Lo: 0x80, Hi: 0x9f, Stride: 1}}}
	tables := []*unicode.RangeTable{unicode.Cf, unicode.Zl, unicode.Zp, unicode.Bidi_Control, c1}
	n := 0
	eachRune(tables, func(r rune) {
		n++
		in := "a" + string(r) + "b"
		for _, out := range []string{string(AppendText(nil, []byte(in), false)), string(AppendField(nil, []byte(in), true))} {
			if strings.ContainsRune(out, r) || !strings.HasPrefix(out, "a\\") {
				t.Errorf("%U (%s) not escaped in text: %q", r, categories(r), out)
			}
		}
		js := AppendJSONString(nil, []byte(in))
		var back string
		if strings.ContainsRune(string(js), r) || json.Unmarshal(js, &back) != nil || back != in {
			t.Errorf("%U (%s) in JSON: %s decodes to %q", r, categories(r), js, back)
		}
	})
	t.Logf("%d runes checked (Unicode %s)", n, unicode.Version)
	if n < 170 {
		t.Errorf("only %d runes: the tables are not walked", n)
	}
	// Visible runes next to them stay as they are.
	for _, r := range []rune{0xa0, 0xac, 0xae, 'é', '✓', 0x1f600} {
		if Hidden(r) {
			t.Errorf("Hidden(%U) = true", r)
		}
	}
}

func categories(r rune) string {
	var cats []string
	for name, tab := range unicode.Categories {
		if len(name) == 2 && unicode.Is(tab, r) {
			cats = append(cats, name)
		}
	}
	return strings.Join(cats, ",")
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
		{"zero width escaped", "\u200b", `"\u200b"`},
		{"tag character as surrogates", "\U000e0041", `"\udb40\udc41"`},
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
			if r < 0x20 || r == 0x7f || Hidden(r) {
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

func TestErrnoWidth(t *testing.T) {
	longest := ""
	for e := 1; e <= maxErrno; e++ {
		if n := ErrnoName(e); len(n) > len(longest) {
			longest = n
		}
	}
	if ErrnoWidth != len(longest) || len("ENOTRECOVERABLE") > ErrnoWidth {
		t.Errorf("ErrnoWidth = %d, longest errno name %q", ErrnoWidth, longest)
	}
}
