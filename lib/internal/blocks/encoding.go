package blocks

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/ianaindex"
)

var (
	utf8BOM = []byte{0xEF, 0xBB, 0xBF}
	// The expressions of PEP 263 and Lib/tokenize.py.
	cookieRe = regexp.MustCompile(`^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`)
	blankRe  = regexp.MustCompile(`^[ \t\f]*(?:[#\r\n]|$)`)
)

// decode returns src as UTF-8 text the way Python would read it, or false
// where Python would refuse the file (SyntaxError at import). Decoding never
// adds or removes line breaks, so line numbers stay those of src.
func decode(src []byte) ([]byte, bool) {
	if bytes.IndexByte(src, 0) >= 0 {
		return nil, false
	}
	bom := bytes.HasPrefix(src, utf8BOM)
	if bom {
		src = src[len(utf8BOM):]
	}
	enc := cookie(src)
	var text []byte
	switch {
	case enc == "" || enc == "utf-8":
		text = src
		if !utf8.Valid(text) {
			return nil, false
		}
	case bom:
		return nil, false // Python: "encoding problem: utf-8"
	case enc == "iso-8859-1":
		text = make([]byte, 0, len(src)+len(src)/8)
		for _, c := range src {
			text = utf8.AppendRune(text, rune(c))
		}
	default:
		e, _ := ianaindex.IANA.Encoding(ianaName(enc))
		if e == nil {
			return nil, false
		}
		out, err := e.NewDecoder().Bytes(src)
		// x/text replaces undecodable bytes where Python's strict codecs fail.
		if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
			return nil, false
		}
		text = out
	}
	text = normalizeNewlines(text)
	// Some codecs map bytes to line breaks (EBCDIC) or swallow them; line
	// numbers would then no longer be those of the file.
	if countLines(text) != countLines(src) {
		return nil, false
	}
	return text, true
}

// cookie returns the normalized encoding declared on line 1 or 2, or "".
// Line 2 counts only if line 1 is blank or a comment, as in Python.
func cookie(src []byte) string {
	line1, rest := cutLine(src)
	if m := cookieRe.FindSubmatch(line1); m != nil {
		return normalEncoding(string(m[1]))
	}
	if !blankRe.Match(line1) {
		return ""
	}
	line2, _ := cutLine(rest)
	if m := cookieRe.FindSubmatch(line2); m != nil {
		return normalEncoding(string(m[1]))
	}
	return ""
}

func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			return b[:i+2], b[i+2:]
		}
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

// normalEncoding folds the spellings Python accepts for its codec names
// (case, '-' versus '_', common aliases) onto one name.
func normalEncoding(name string) string {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	switch n {
	case "utf-8", "utf8", "u8", "utf", "cp65001":
		return "utf-8"
	case "latin-1", "latin1", "l1", "iso-8859-1", "iso8859-1", "8859", "cp819", "iso-latin-1", "iso-ir-100":
		return "iso-8859-1"
	}
	// Python's own normalization also folds "utf-8-*" and "latin-1-*".
	switch {
	case strings.HasPrefix(n, "utf-8-"):
		return "utf-8"
	case strings.HasPrefix(n, "latin-1-"), strings.HasPrefix(n, "iso-8859-1-"), strings.HasPrefix(n, "iso-latin-1-"):
		return "iso-8859-1"
	}
	return n
}

// ianaName maps a normalized Python codec name to a name that ianaindex
// knows; wide encodings are refused since Python refuses them as source
// encodings.
func ianaName(n string) string {
	switch {
	case strings.HasPrefix(n, "utf-16"), strings.HasPrefix(n, "utf16"),
		strings.HasPrefix(n, "utf-32"), strings.HasPrefix(n, "utf32"):
		return ""
	case n == "ascii" || n == "646" || n == "us":
		return "us-ascii"
	case strings.HasPrefix(n, "cp125") || strings.HasPrefix(n, "windows125"):
		return "windows-" + n[len(n)-4:]
	case strings.HasPrefix(n, "iso8859-"):
		return "iso-" + n[3:]
	case n == "sjis" || n == "shift-jis" || n == "s-jis":
		return "shift_jis"
	case n == "cp932" || n == "ms932" || n == "mskanji" || n == "ms-kanji":
		return "windows-31j"
	case n == "gb2312":
		return "gbk" // a superset: valid GB2312 text decodes the same
	}
	return n
}

// normalizeNewlines turns lone '\r' into '\n', as Python's universal
// newlines do, so that line numbers agree with Python's.
func normalizeNewlines(b []byte) []byte {
	i := bytes.IndexByte(b, '\r')
	for ; i >= 0 && i+1 < len(b) && b[i+1] == '\n'; i = nextCR(b, i+2) {
	}
	if i < 0 {
		return b
	}
	out := bytes.Clone(b)
	for ; i >= 0; i = nextCR(out, i+1) {
		if i+1 >= len(out) || out[i+1] != '\n' {
			out[i] = '\n'
		}
	}
	return out
}

func nextCR(b []byte, from int) int {
	if from >= len(b) {
		return -1
	}
	if j := bytes.IndexByte(b[from:], '\r'); j >= 0 {
		return from + j
	}
	return -1
}

// countLines returns the number of lines as Python counts them (at least 1).
func countLines(b []byte) int {
	n := 0
	for i, c := range b {
		if c == '\n' || c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			n++
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' && b[len(b)-1] != '\r' {
		n++
	}
	return max(n, 1)
}
