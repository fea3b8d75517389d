package blocks

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestScratch(t *testing.T) {
	src, _ := os.ReadFile(os.Getenv("SRC"))
	p := NewParser()
	defer p.Close()
	f := p.Parse(src)
	fmt.Println("parsed", f.Parsed, f.Names)
	for i, b := range f.Blocks {
		fmt.Printf("%d %-30s k=%d %d-%d %x\n", i, b.Name, b.Kind, b.Start, b.End, b.Checksum)
	}
	for l := 1; l <= f.Blocks[0].End; l++ {
		fmt.Print(f.BlockAt(l), " ")
	}
	fmt.Println()
}

func TestScratchTree(t *testing.T) {
	src, _ := os.ReadFile(os.Getenv("SRC"))
	p := NewParser()
	defer p.Close()
	g := pythonGrammar()
	depth := 0
	ok := p.ts.walk(src, []int{0, len(src)}, func(evs []event) bool {
		for _, e := range evs {
			switch e.kind {
			case evLeave:
				depth--
			case evEnter:
				fmt.Printf("%*s(%s f=%d [%d:%d] %q\n", depth*2, "", g.sym(e.sym).name, e.field, e.start, e.end, src[e.start:e.end])
				depth++
			default:
				fmt.Printf("%*s%s f=%d %q\n", depth*2, "", g.sym(e.sym).name, e.field, src[e.start:e.end])
			}
		}
		return true
	})
	fmt.Println(ok, g.fieldName, g.fieldBody)
}

func genScratch(n int) []byte {
	var b []byte
	for i := 0; len(b) < n; i++ {
		b = fmt.Appendf(b, "class C%d(Base):\n    x = [1, 2, 3]\n    def m%d(self, a, b=2):\n        \"\"\"doc\"\"\"\n        return {k: v for k, v in a.items() if v > b}  # c\n\n", i, i)
		b = fmt.Appendf(b, "@deco(1)\ndef f%d(x, *args, **kw):\n    y = f'{x!r:>10} and {kw}'\n    return lambda z: (y, z, x + 1)\n\n", i)
	}
	return b
}

func TestScratchBig(t *testing.T) {
	src := genScratch(50 << 20)
	p := NewParser()
	defer p.Close()
	t0 := time.Now()
	f := p.Parse(src)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println(len(src), len(f.Blocks), f.Parsed, time.Since(t0), "heap", ms.HeapAlloc>>20, "sys", ms.Sys>>20)
}

func TestScratchSplit(t *testing.T) {
	src := genScratch(10 << 20)
	p := NewParser()
	defer p.Close()
	t0 := time.Now()
	n := 0
	p.ts.walk(src, []int{0, len(src)}, func(evs []event) bool { n += len(evs); return true })
	t1 := time.Now()
	f := p.Parse(src)
	fmt.Println(len(src), n, "walk-only", t1.Sub(t0), "full", time.Since(t1), f.Parsed)
}

func TestScratchParseOnly(t *testing.T) {
	for _, sz := range []int{1 << 20, 4 << 20, 10 << 20} {
		src := genScratch(sz)
		p := NewParser()
		t0 := time.Now()
		ok := p.ts.walk(src, []int{0, len(src)}, func(evs []event) bool { return false })
		t1 := time.Now()
		n := 0
		p.ts.walk(src, []int{0, len(src)}, func(evs []event) bool { n += len(evs); return true })
		fmt.Println(len(src), ok, "parse", t1.Sub(t0), "parse+walk", time.Since(t1), n)
		p.Close()
	}
}

func TestScratchDeep(t *testing.T) {
	for _, s := range []string{"x = " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000) + "\n", "x = " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n", "x = 1" + strings.Repeat(" + 1", 20000) + "\n"} {
		t0 := time.Now()
		f := parse(t, s)
		fmt.Println(f.Parsed, len(f.Blocks), time.Since(t0))
	}
}
