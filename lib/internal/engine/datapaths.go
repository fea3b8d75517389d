package engine

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"strings"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/fingerprint"
)

// maxPathLen bounds a dotted path found in a data file: a longer run of
// dotted words (minified code, a long host name) names no module.
const maxPathLen = 256

// dataPaths returns the dotted paths ("pkg.settings.LEVEL", "pkg.mod:func",
// "ext://pkg.mod.NAME" without its scheme) in the bytes of a data file, each
// once, in order of first appearance. A configuration file that a library
// reads (logging.config, a plugin registry, a settings loader) names the
// project's modules this way, and the library reads their names with
// getattr, in code the recorder does not watch; no Python string holds the
// path, so only the file's bytes tell (SPEC 4.8, dynamic access).
//
// template reports whether the bytes hold a template's markers ("{{", "{%",
// "${": Jinja, Django, Mako, string.Template): a template reads the
// attributes of the objects it is rendered with by names in its text,
// through subscripts too ({{ account["fee"] }}), in code the recorder does
// not watch.
func dataPaths(r io.Reader) (paths []string, template bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		out   []string
		seen  = map[string]struct{}{}
		tok   []byte
		long  bool // tok grew past maxPathLen: dropped when it ends
		colon bool // tok has its ":attr" part
		prev  byte // the byte before tok starts
		last  byte // the byte before c
	)
	add := func(p []byte) {
		if _, ok := seen[string(p)]; !ok {
			seen[string(p)] = struct{}{}
			out = append(out, string(p))
		}
	}
	finish := func() {
		for len(tok) > 0 && (tok[len(tok)-1] == '.' || tok[len(tok)-1] == ':') {
			if tok[len(tok)-1] == ':' {
				colon = false
			}
			tok = tok[:len(tok)-1]
		}
		if !long && len(tok) > 0 && (colon || containsDot(tok)) {
			add(tok)
			if tok[0] == 'c' && len(tok) > 1 && identStart(tok[1]) {
				// A pickle's GLOBAL opcode (protocols 0 to 3) is a "c"
				// right before the module's name.
				add(tok[1:])
			}
		}
		if len(tok) > 0 {
			prev = tok[len(tok)-1]
		}
		tok, long, colon = tok[:0], false, false
	}
	var line []byte // the current line's start, for importLine
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			finish()
			for _, p := range importLine(line) {
				add([]byte(p))
			}
			return out, template, nil
		}
		if err != nil {
			return nil, false, err
		}
		if c == '\n' {
			for _, p := range importLine(line) {
				add([]byte(p))
			}
			line = line[:0]
		} else if len(line) < maxPathLen {
			line = append(line, c)
		}
		if last == '{' && (c == '{' || c == '%') || last == '$' && c == '{' {
			template = true
		}
		last = c
		if len(tok) == 0 {
			if identStart(c) && !isIdentChar(prev) && prev != '.' {
				tok = append(tok, c)
			}
			prev = c
			continue
		}
		end := tok[len(tok)-1]
		switch {
		case end == '.' || end == ':':
			if !identStart(c) {
				finish()
				prev = c
				continue
			}
		case isIdentChar(c):
		case c == '.':
		case c == ':' && !colon:
			colon = true
		default:
			finish()
			prev = c
			continue
		}
		if len(tok) < maxPathLen {
			tok = append(tok, c)
		} else {
			long = true
		}
	}
}

// dataNames is what a data file a test read names (dataPaths).
type dataNames struct {
	modules  []string // project modules named as dotted paths
	attrs    []string // the names after a dot ("account.fee": fee)
	template bool
}

// readDataNames reads the data file at path under root; a file that
// cannot be read names nothing (its "<content>" says so).
func (s *Session) readDataNames(path string) dataNames {
	f, err := fingerprint.OpenData(s.root, path)
	if err != nil {
		return dataNames{}
	}
	defer f.Close()
	paths, template, err := dataPaths(f)
	if err != nil {
		return dataNames{}
	}
	out := dataNames{modules: s.modulesNamed(path, paths), template: template}
	seen := map[string]bool{}
	for _, p := range paths {
		for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '.' || r == ':' })[1:] {
			if !seen[part] {
				seen[part] = true
				out.attrs = append(out.attrs, part)
			}
		}
	}
	return out
}

// importRe matches a line of Python code that imports (in a Markdown or
// reStructuredText example, a doctest, a script kept as data), after any
// prompt: "from pkg import b, c" or "import pkg.b as x, d".
var importRe = regexp.MustCompile(`^[ \t>.]*(?:from[ \t]+([A-Za-z_\pL][\w\pL.]*)[ \t]+import[ \t]+\(?([\w\pL, \t]+)|import[ \t]+([\w\pL., \t]+))`)

// importLine returns the modules a line of code imports, as dotted paths:
// "from pkg import b" imports pkg and may import pkg.b, which the code then
// reads as b.NAME, a path no other rule sees.
func importLine(line []byte) []string {
	if !bytes.Contains(line, []byte("import")) {
		return nil
	}
	m := importRe.FindSubmatch(bytes.TrimRight(line, "\r"))
	if m == nil {
		return nil
	}
	var out []string
	names := func(list []byte) []string {
		var got []string
		for _, part := range strings.Split(string(list), ",") {
			if f := strings.Fields(part); len(f) > 0 && f[0] != "as" {
				got = append(got, f[0])
			}
		}
		return got
	}
	if len(m[1]) > 0 {
		mod := string(m[1])
		out = append(out, mod)
		for _, n := range names(m[2]) {
			if n != "*" {
				out = append(out, mod+"."+n)
			}
		}
		return out
	}
	return names(m[3])
}

func containsDot(b []byte) bool {
	for _, c := range b {
		if c == '.' {
			return true
		}
	}
	return false
}

// identStart reports whether c may start a name of a dotted path: a
// Python identifier may start with a non-ASCII letter (ñandú.config), whose
// UTF-8 encoding starts with a lead byte. Continuation bytes start nothing,
// which keeps binary data from starting a run in the middle of a character.
func identStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0xC2 && c <= 0xF4
}
