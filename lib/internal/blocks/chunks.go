package blocks

import "bytes"

// pieceSize is the size above which a file is parsed in pieces of about
// that size. A tree-sitter tree takes about 70 bytes per byte of source, so
// parsing a 50 MB file at once would take 3.5 GB.
var pieceSize = 1 << 20

// pieces returns offsets 0 = b0 < b1 < ... < bn = len(src) that cut src at
// the starts of top-level statements into pieces of at least size bytes, so
// that every piece parses on its own into the statements the whole file
// parses into. A cheap scan of strings, comments, brackets and line
// continuations finds the statement starts; where it could be wrong (say a
// newline inside an f-string replacement field), a piece ends inside an
// unclosed construct and fails to parse, and the caller parses the whole
// file at once instead.
func pieces(src []byte, size int) []int {
	bounds := []int{0}
	decorator := false // the last top-level line was a decorator
	for i := 0; i < len(src); {
		// Here i starts a line outside any string, bracket or continuation.
		if c := src[i]; c != ' ' && c != '\t' && c != '\f' && c != '#' && c != '\r' && c != '\n' {
			if !decorator && i-bounds[len(bounds)-1] >= size && startsStatement(src[i:]) {
				bounds = append(bounds, i)
			}
			decorator = c == '@'
		}
		i = endOfLogicalLine(src, i)
	}
	return append(bounds, len(src))
}

// startsStatement reports whether an unindented line can start a statement
// of its own rather than continue the compound statement above it.
func startsStatement(line []byte) bool {
	if !isIdentByte(line[0]) && !bytes.ContainsRune([]byte(`"'([{@-+~*.`), rune(line[0])) {
		return false
	}
	for _, kw := range [...]string{"else", "elif", "except", "finally"} {
		if bytes.HasPrefix(line, []byte(kw)) && (len(line) == len(kw) || !isIdentByte(line[len(kw)])) {
			return false
		}
	}
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// endOfLogicalLine returns the offset just past the newline that ends the
// logical line starting at i.
func endOfLogicalLine(src []byte, i int) int {
	depth := 0
	for i < len(src) {
		switch c := src[i]; c {
		case '\n':
			if depth == 0 {
				return i + 1
			}
			i++
		case '#':
			if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(src)
			}
		case '\'', '"':
			i = endOfString(src, i)
		case '\\':
			i += 2 // an escaped newline continues the line
			if i < len(src) && src[i-1] == '\r' && src[i] == '\n' {
				i++
			}
		case '(', '[', '{':
			depth++
			i++
		case ')', ']', '}':
			depth = max(depth-1, 0)
			i++
		default:
			i++
		}
	}
	return len(src)
}

// endOfString returns the offset just past the string literal whose opening
// quote is at i, or of the newline that ends an unterminated one.
func endOfString(src []byte, i int) int {
	q := src[i]
	triple := i+2 < len(src) && src[i+1] == q && src[i+2] == q
	if triple {
		i += 3
	} else {
		i++
	}
	for i < len(src) {
		switch src[i] {
		case '\\':
			i += 2
		case q:
			if !triple {
				return i + 1
			}
			if i+2 < len(src) && src[i+1] == q && src[i+2] == q {
				return i + 3
			}
			i++
		case '\n':
			if !triple {
				return i
			}
			i++
		default:
			i++
		}
	}
	return len(src)
}
