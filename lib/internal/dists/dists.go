// Package dists finds which installed distribution provides a top-level
// module, by reading the metadata directories in the interpreter's search
// path (top_level.txt, else the first path components in RECORD). It runs in
// Go because Python's importlib.metadata.packages_distributions() reads
// every file list and costs a third of a second in a modest virtualenv.
package dists

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

var (
	distDir   = regexp.MustCompile(`^([^-]+)-([^-]+?)(-py\d.*)?\.(dist|egg)-info$`)
	separator = regexp.MustCompile(`[-_.]+`)
)

// Normalize is the PEP 503 normal form of a distribution name.
func Normalize(name string) string {
	return strings.ToLower(separator.ReplaceAllString(name, "-"))
}

// Index maps top-level module names to distribution names.
type Index struct {
	once  sync.Once
	paths []string
	top   map[string][]string
}

// New returns an index over the given directories (sys.path entries); it is
// built on first use.
func New(paths []string) *Index { return &Index{paths: paths} }

// Lookup returns the distributions providing a top-level module, sorted.
func (x *Index) Lookup(module string) []string {
	x.once.Do(x.build)
	return x.top[module]
}

func (x *Index) build() {
	x.top = map[string][]string{}
	seen := map[string]bool{}
	for _, dir := range x.paths {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			m := distDir.FindStringSubmatch(e.Name())
			if m == nil || !e.IsDir() {
				continue
			}
			name := Normalize(m[1])
			if seen[name] {
				continue // the first on the path wins, as in Python
			}
			seen[name] = true
			for _, mod := range topLevel(filepath.Join(dir, e.Name())) {
				x.top[mod] = append(x.top[mod], name)
			}
		}
	}
	for k, v := range x.top {
		sort.Strings(v)
		x.top[k] = v
	}
}

// topLevel lists the top-level modules a distribution installs.
func topLevel(meta string) []string {
	if b, err := os.ReadFile(filepath.Join(meta, "top_level.txt")); err == nil {
		var out []string
		for _, l := range strings.Fields(string(b)) {
			out = append(out, strings.ReplaceAll(l, "/", "."))
		}
		return out
	}
	f, err := os.Open(filepath.Join(meta, "RECORD"))
	if err != nil {
		return nil
	}
	defer f.Close()
	set := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p, _, _ := strings.Cut(sc.Text(), ",")
		if strings.HasPrefix(p, "..") || strings.HasPrefix(p, "/") {
			continue
		}
		first, rest, nested := strings.Cut(p, "/")
		switch {
		case strings.HasSuffix(first, ".dist-info") || strings.HasSuffix(first, ".data") || first == "__pycache__":
		case nested && rest != "":
			set[first] = true
		case strings.HasSuffix(first, ".py"):
			set[strings.TrimSuffix(first, ".py")] = true
		case strings.Contains(first, ".so") || strings.HasSuffix(first, ".pyd"):
			set[strings.SplitN(first, ".", 2)[0]] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}
