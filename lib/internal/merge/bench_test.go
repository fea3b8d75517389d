package merge

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/pytest-difftest/pytest-difftest/lib/internal/store"
)

// Fifty shard baselines of 2,000 tests each, as a sharded CI produces them:
//
//	go test -run '^$' -bench Merge -benchtime 3x ./lib/internal/merge/
//
// "Distinct": every shard ran other tests (100,000 tests in the output).
// "Same": every shard ran the same 2,000 tests at other times (2,000 in
// the output). A few source files differ in the later shards, as if
// recorded after a commit.
func BenchmarkMerge50x2000Distinct(b *testing.B) { benchmarkMerge(b, false) }
func BenchmarkMerge50x2000Same(b *testing.B)     { benchmarkMerge(b, true) }

const (
	benchShards   = 50
	benchTests    = 2000
	benchModules  = 300
	benchFuncs    = 15 // per module
	benchTestFile = 100
)

func benchmarkMerge(b *testing.B, same bool) {
	dir := b.TempDir()
	var inputs []string
	var size int64
	for s := range benchShards {
		p := filepath.Join(dir, fmt.Sprintf("shard%02d.db", s))
		writeShard(b, p, s, same)
		inputs = append(inputs, p)
		size += fileSize(p)
	}
	out := filepath.Join(dir, "merged.db")
	runtime.GC()
	peak := watchHeap()
	gcBefore := gcMetrics()
	b.ResetTimer()
	var res *Result
	for b.Loop() {
		var err error
		res, err = Run(context.Background(), out, inputs, Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	gcAfter := gcMetrics()
	// What the collector costs, in CPU time (steadier than wall time on a
	// shared machine), and the most heap in use at once.
	b.ReportMetric(float64(gcAfter.cycles-gcBefore.cycles)/float64(b.N), "gc-cycles/op")
	b.ReportMetric((gcAfter.cpu-gcBefore.cpu)/float64(b.N), "gc-cpu-s/op")
	b.ReportMetric((gcAfter.total-gcBefore.total)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(size)/(1<<20), "input-MB")
	b.ReportMetric(float64(res.Tests), "tests")
	b.ReportMetric(float64(res.Bytes)/(1<<20), "output-MB")
}

// writeShard writes shard s: every module, the shard's test files, and
// tests that each depend on about 40 block versions.
func writeShard(b testing.TB, path string, s int, same bool) {
	db, _, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	l, err := store.NewLoader(tx)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()

	if err := l.Env(store.Env{ID: 1, Name: "3.12", RecordedAt: int64(1000 + s), Vars: map[string]string{"python": "3.12"}}); err != nil {
		b.Fatal(err)
	}
	var fileID, blockID int64
	// version: later shards recorded a few modules after an edit.
	version := func(m int) uint64 {
		if s >= 40 && m%50 == 0 {
			return 2
		}
		return 1
	}
	type mod struct{ module, defs, funcs int64 }
	mods := make([]mod, benchModules)
	for m := range benchModules {
		fileID++
		v := version(m)
		if err := l.File(store.File{ID: fileID, Path: fmt.Sprintf("src/pkg/mod%03d.py", m), Size: 4000, MtimeNs: int64(m), Hash: uint64(m)*100 + v}); err != nil {
			b.Fatal(err)
		}
		mods[m].module = blockID + 1
		for i, name := range []string{"<module>", "<defs>"} {
			blockID++
			if err := l.Block(store.Block{ID: blockID, FileID: fileID, Name: name, Checksum: uint64(m*1000+i) + v}); err != nil {
				b.Fatal(err)
			}
		}
		mods[m].funcs = blockID + 1
		for f := range benchFuncs {
			blockID++
			sum := uint64(m*1000 + 10 + f)
			if f == 0 {
				sum += v
			}
			if err := l.Block(store.Block{ID: blockID, FileID: fileID, Name: fmt.Sprintf("func_%02d", f), Checksum: sum}); err != nil {
				b.Fatal(err)
			}
		}
	}
	fileID++
	if err := l.File(store.File{ID: fileID, Path: "<env:3.12>"}); err != nil {
		b.Fatal(err)
	}
	envFirst := blockID + 1
	for i := range 10 {
		blockID++
		if err := l.Block(store.Block{ID: blockID, FileID: fileID, Name: fmt.Sprintf("dist:pkg%d", i), Checksum: uint64(i), Names: []string{"1.0"}}); err != nil {
			b.Fatal(err)
		}
	}

	group := s
	if same {
		group = 0
	}
	for tf := range benchTests / benchTestFile {
		fileID++
		p := fmt.Sprintf("tests/shard%02d/test_%02d.py", group, tf)
		if err := l.File(store.File{ID: fileID, Path: p, Size: 3000, MtimeNs: 1, Hash: uint64(tf)}); err != nil {
			b.Fatal(err)
		}
		if err := l.TestFile(1, p, uint64(tf)); err != nil {
			b.Fatal(err)
		}
		module := blockID + 1
		for i, name := range []string{"<module>", "<defs>"} {
			blockID++
			if err := l.Block(store.Block{ID: blockID, FileID: fileID, Name: name, Checksum: uint64(tf*10 + i)}); err != nil {
				b.Fatal(err)
			}
		}
		for t := range benchTestFile {
			blockID++
			name := fmt.Sprintf("test_%03d", t)
			if err := l.Block(store.Block{ID: blockID, FileID: fileID, Name: name, Checksum: uint64(t)}); err != nil {
				b.Fatal(err)
			}
			deps := []int64{module, module + 1, blockID}
			for i := range 10 {
				deps = append(deps, envFirst+int64(i))
			}
			n := tf*benchTestFile + t
			for k := range 5 {
				m := mods[(n*7+k*31)%benchModules]
				deps = append(deps, m.module, m.module+1, m.funcs+int64((n+k)%benchFuncs), m.funcs+int64((n+2*k+1)%benchFuncs), m.funcs+int64((n+3*k+2)%benchFuncs))
			}
			rec := store.Test{Env: 1, NodeID: p + "::" + name, Outcome: store.Outcome(n % 5 / 4), Duration: 0.01, RecordedAt: int64(1000 + s), Deps: store.EncodeIDs(deps)}
			if err := l.Test(rec); err != nil {
				b.Fatal(err)
			}
		}
	}
	for k, v := range map[string]string{"recorded_at": fmt.Sprint(1000 + s), "commit": fmt.Sprintf("%040d", s)} {
		if err := l.Meta(k, v); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

type gcSample struct {
	cycles     uint64
	cpu, total float64
}

func gcMetrics() gcSample {
	m := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(m)
	return gcSample{cycles: m[0].Value.Uint64(), cpu: m[1].Value.Float64(), total: m[2].Value.Float64()}
}

// watchHeap samples the heap's object bytes until the returned function
// is called, which returns the largest sample.
func watchHeap() func() uint64 {
	var peak uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(m)
			peak = max(peak, m[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}
