package output

import (
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendText appends s to dst escaped for one line of terminal text: C0 and C1
// control characters, DEL, backslash, bytes that are not UTF-8, and the Unicode
// line separators and bidirectional overrides are written as \n, \t, \r, \\,
// \xNN or \uNNNN. With quote, '"' is written as \" too.
func AppendText(dst, s []byte, quote bool) []byte {
	for i := 0; i < len(s); {
		// Copy the run of bytes that need no escaping in one go.
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '\\' && (s[j] != '"' || !quote) {
			j++
		}
		dst = append(dst, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\':
				dst = append(dst, '\\', '\\')
			case c == '"' && quote:
				dst = append(dst, '\\', '"')
			case c >= 0x20 && c < 0x7f:
				dst = append(dst, c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = appendHexByte(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = appendHexByte(dst, c)
		case deceptive(r):
			dst = appendU4(dst, '\\', r)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// AppendJSONString appends s as a JSON string literal. Bytes that are not
// UTF-8 become U+FFFD (JSON strings are Unicode); control characters, DEL and
// the runes AppendText escapes are written as \uNNNN so a terminal showing the
// raw JSON is as safe as one showing text.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c >= 0x20 && c < 0x7f:
				dst = append(dst, c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = appendU4(dst, '\\', rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case deceptive(r):
			dst = appendU4(dst, '\\', r)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// deceptive reports runes that are valid UTF-8 but move the cursor, end a
// line or reorder text on a terminal: C1 controls, U+2028/U+2029 and the
// bidirectional marks and overrides.
func deceptive(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x200e, r == 0x200f, r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

func appendHexByte(dst []byte, c byte) []byte {
	return append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

func appendU4(dst []byte, esc byte, r rune) []byte {
	return append(dst, esc, 'u',
		hexDigits[(r>>12)&0xf], hexDigits[(r>>8)&0xf], hexDigits[(r>>4)&0xf], hexDigits[r&0xf])
}
