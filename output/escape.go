package output

import (
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendText appends s to dst escaped for one line of terminal text: C0 and C1
// control characters, DEL, backslash, bytes that are not UTF-8, and every
// rune that can hide or reorder text (Unicode format characters, category
// Cf, which holds the bidirectional controls, zero-width characters and the
// soft hyphen; the line and paragraph separators, Zl and Zp) are written as
// \n, \t, \r, \\, \xNN, \uNNNN or \UNNNNNNNN. With quote, '"' is written as
// \" too. Spaces are kept: see AppendField.
func AppendText(dst, s []byte, quote bool) []byte { return appendText(dst, s, quote, false) }

// AppendField is AppendText for a text column that is not the last of its
// row: it escapes white space too (' ' as \x20, other Unicode white space
// as \uNNNN), so that the value stays one whitespace-separated field.
func AppendField(dst, s []byte, quote bool) []byte { return appendText(dst, s, quote, true) }

func appendText(dst, s []byte, quote, field bool) []byte {
	for i := 0; i < len(s); {
		// Copy the run of bytes that need no escaping in one go.
		j := i
		for j < len(s) && s[j] > 0x20 && s[j] < 0x7f && s[j] != '\\' && (s[j] != '"' || !quote) {
			j++
		}
		dst = append(dst, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ' && !field:
				dst = append(dst, ' ')
			case c == '\\':
				dst = append(dst, '\\', '\\')
			case c == '"' && quote:
				dst = append(dst, '\\', '"')
			case c > 0x20 && c < 0x7f:
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
		case Hidden(r) || field && unicode.IsSpace(r):
			dst = appendTextRune(dst, r)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// AppendJSONString appends s as a JSON string literal. Bytes that are not
// UTF-8 become U+FFFD (JSON strings are Unicode: the JSON formatter adds the
// exact bytes in a "<key>_b64" field for such values); control characters,
// DEL and the runes AppendText escapes are written as \uNNNN (a surrogate
// pair above U+FFFF) so a terminal showing the raw JSON is as safe as one
// showing text. Every valid UTF-8 string decodes back to itself.
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
				dst = appendU4(dst, rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case Hidden(r) && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			dst = appendU4(appendU4(dst, r1), r2)
		case Hidden(r):
			dst = appendU4(dst, r)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// Hidden reports runes that are valid UTF-8 but that a terminal does not
// show as themselves: they move the cursor, end a line, reorder the text
// around them or take no space at all. These are the C1 controls, Unicode's
// format characters (Cf: the bidirectional controls, zero-width space and
// joiners, word joiner, byte order mark, soft hyphen, tag characters, ...)
// and the line and paragraph separators (Zl, Zp).
func Hidden(r rune) bool {
	switch {
	case r < 0x80:
		return false
	case r <= 0x9f:
		return true
	case r < 0xad: // the first format character, U+00AD SOFT HYPHEN
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Bidi_Control)
}

// appendTextRune escapes r for text: \uNNNN, or \UNNNNNNNN above U+FFFF.
func appendTextRune(dst []byte, r rune) []byte {
	if r > 0xffff {
		return append(dst, '\\', 'U',
			hexDigits[(r>>28)&0xf], hexDigits[(r>>24)&0xf], hexDigits[(r>>20)&0xf], hexDigits[(r>>16)&0xf],
			hexDigits[(r>>12)&0xf], hexDigits[(r>>8)&0xf], hexDigits[(r>>4)&0xf], hexDigits[r&0xf])
	}
	return appendU4(dst, r)
}

func appendHexByte(dst []byte, c byte) []byte {
	return append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		hexDigits[(r>>12)&0xf], hexDigits[(r>>8)&0xf], hexDigits[(r>>4)&0xf], hexDigits[r&0xf])
}
