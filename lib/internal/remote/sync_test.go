package remote

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validDB is the test's notion of a valid database: content starting "DB:".
func validDB(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(b), "DB:") {
		return errors.New("not a pytest-difftest database")
	}
	return nil
}

// leftovers returns the temporary and staging files left in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") || strings.Contains(e.Name(), ".pull") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestCheck(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "s3://bkt/ci/base.db", want: "s3://bkt/ci/base.db"},
		{in: "file:///tmp/./x/base.db", want: "file:///tmp/x/base.db"},
		{in: "s3://bkt/ci/", wantErr: `s3://bkt/ci/: names a prefix (ends in "/"), not an object`},
		{in: "gs://bkt/base.db", wantErr: `unknown scheme "gs"`},
		{in: "base.db", wantErr: "not a remote URL"},
		{in: "s3://key:hunter22@bkt/base.db", wantErr: "credentials in the URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Check(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrUsage) {
					t.Fatalf("Check(%q) = %q, %v; want usage error %q", tt.in, got, err, tt.wantErr)
				}
				assertNoSecrets(t, err.Error())
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Check(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// syncTarget is one remote flavour for TestPullPush.
type syncTarget struct {
	url      string
	env      map[string]string
	bodyGets func() int64 // -1 when the flavour cannot count
	put      func(t *testing.T, content string)
}

func TestPullPush(t *testing.T) {
	targets := map[string]func(t *testing.T) syncTarget{
		"file": func(t *testing.T) syncTarget {
			p := filepath.Join(t.TempDir(), "remote", "base.db")
			return syncTarget{
				url:      fileURL(p),
				bodyGets: func() int64 { return -1 },
				put:      func(t *testing.T, content string) { writeFile(t, p, content) },
			}
		},
		"s3": func(t *testing.T) syncTarget {
			fake := newFakeS3(t, "bkt")
			env := testEnv(t, fake.url)
			u := "s3://bkt/ci/base.db"
			return syncTarget{
				url:      u,
				env:      env,
				bodyGets: fake.bodyGets.Load,
				put: func(t *testing.T, content string) {
					src := filepath.Join(t.TempDir(), "src.db")
					writeFile(t, src, content)
					c, err := Open(u, Options{Env: env})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := c.Upload(context.Background(), src); err != nil {
						t.Fatal(err)
					}
				},
			}
		},
	}
	for name, mk := range targets {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tg := mk(t)
			opts := SyncOptions{Options: Options{Env: tg.env}, Validate: validDB}
			dir := filepath.Join(t.TempDir(), ".pytest_cache", "pytest-difftest")
			local := filepath.Join(dir, "base.db")
			state := local + ".etag"
			gets := func() int64 { return tg.bodyGets() }

			// A missing object is a first run, not an error.
			res, err := Pull(ctx, tg.url, local, opts)
			if err != nil || !res.Missing || res.Fetched || res.Size != -1 {
				t.Fatalf("Pull of a missing object = %+v, %v", res, err)
			}
			if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("Pull of a missing object created the local file")
			}

			// Push records the ETag: the next Pull downloads nothing.
			writeFile(t, local, "DB:main-1")
			pushed, err := Push(ctx, tg.url, local, opts)
			if err != nil || pushed.ETag == "" || pushed.Size != int64(len("DB:main-1")) || pushed.URL != tg.url {
				t.Fatalf("Push = %+v, %v", pushed, err)
			}
			before := gets()
			res, err = Pull(ctx, tg.url, local, opts)
			if err != nil || res.Fetched || res.Missing || res.ETag != pushed.ETag || res.Size != int64(len("DB:main-1")) {
				t.Fatalf("Pull after Push = %+v, %v; want nothing fetched", res, err)
			}
			if before >= 0 && gets() != before {
				t.Fatalf("Pull after Push transferred the object")
			}

			// Local changes are kept while the remote is unchanged.
			writeFile(t, local, "DB:local edits")
			if res, err = Pull(ctx, tg.url, local, opts); err != nil || res.Fetched {
				t.Fatalf("Pull = %+v, %v", res, err)
			}
			if readFile(t, local) != "DB:local edits" {
				t.Fatal("local file replaced although the remote is unchanged")
			}

			// A changed remote replaces the local file, and a stale
			// write-ahead log of the old file goes with it.
			tg.put(t, "DB:main-2")
			writeFile(t, local+"-wal", "old wal")
			before = gets()
			res, err = Pull(ctx, tg.url, local, opts)
			if err != nil || !res.Fetched || res.ETag == pushed.ETag || res.Size != int64(len("DB:main-2")) {
				t.Fatalf("Pull of a changed remote = %+v, %v", res, err)
			}
			if before >= 0 && gets() != before+1 {
				t.Fatalf("%d body GETs, want 1", gets()-before)
			}
			if readFile(t, local) != "DB:main-2" {
				t.Fatalf("local content %q", readFile(t, local))
			}
			if _, err := os.Stat(local + "-wal"); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("stale -wal kept")
			}
			etag2 := res.ETag

			// Twice unchanged: nothing downloaded.
			before = gets()
			if res, err = Pull(ctx, tg.url, local, opts); err != nil || res.Fetched || res.ETag != etag2 {
				t.Fatalf("second Pull = %+v, %v", res, err)
			}
			if before >= 0 && gets() != before {
				t.Fatal("second Pull transferred the object")
			}

			// An invalid object aborts; local file and state stay.
			stateBefore := readFile(t, state)
			tg.put(t, "garbage")
			res, err = Pull(ctx, tg.url, local, opts)
			if !errors.Is(err, ErrInvalid) || err.Error() != tg.url+": not a pytest-difftest database" {
				t.Fatalf("Pull of garbage = %+v, %v", res, err)
			}
			if readFile(t, local) != "DB:main-2" || readFile(t, state) != stateBefore {
				t.Fatal("Pull of garbage changed the local file or the state")
			}
			if left := leftovers(t, dir); len(left) > 0 {
				t.Fatalf("files left behind: %v", left)
			}

			// No state (or state for another URL, or no local file): the
			// object is downloaded whatever the cache says.
			tg.put(t, "DB:main-3")
			if _, err := Pull(ctx, tg.url, local, opts); err != nil {
				t.Fatal(err)
			}
			for _, setup := range []func(){
				func() { os.Remove(state) },
				func() { writeFile(t, state, strings.Replace(readFile(t, state), tg.url, tg.url+".other", 1)) },
				func() { os.Remove(local) },
				func() { writeFile(t, state, "not json") },
			} {
				if _, err := Pull(ctx, tg.url, local, opts); err != nil {
					t.Fatal(err)
				}
				writeFile(t, local, "DB:stale")
				setup()
				res, err := Pull(ctx, tg.url, local, opts)
				if err != nil || !res.Fetched || readFile(t, local) != "DB:main-3" {
					t.Fatalf("Pull = %+v, %v; want fetched", res, err)
				}
			}

			// Push refuses an invalid local file.
			writeFile(t, local, "junk")
			if _, err := Push(ctx, tg.url, local, opts); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not uploading") {
				t.Fatalf("Push of junk: %v", err)
			}
			// A missing object removes the state (it describes nothing).
			if name == "file" {
				os.Remove(strings.TrimPrefix(tg.url, "file://"))
				writeFile(t, local, "DB:kept")
				res, err := Pull(ctx, tg.url, local, opts)
				if err != nil || !res.Missing || readFile(t, local) != "DB:kept" {
					t.Fatalf("Pull of a deleted object = %+v, %v", res, err)
				}
				if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
					t.Fatal("state kept for a missing object")
				}
			}
			if left := leftovers(t, dir); len(left) > 0 {
				t.Fatalf("files left behind: %v", left)
			}
		})
	}
}

func TestPullErrorsKeepLocal(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t, "bkt")
	env := testEnv(t, fake.url)
	dir := t.TempDir()
	local := filepath.Join(dir, "base.db")
	writeFile(t, local, "DB:local")
	opts := SyncOptions{Options: Options{Env: env}, Validate: validDB}
	tests := []struct {
		name string
		url  string
		kind Kind
	}{
		{"missing bucket", "s3://nobucket/base.db", KindNoBucket},
		{"bad url", "s3://bkt/", KindUsage},
		{"file is a directory", fileURL(dir), KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Pull(ctx, tt.url, local, opts)
			if KindOf(err) != tt.kind {
				t.Fatalf("Pull: %v (kind %v), want kind %v", err, KindOf(err), tt.kind)
			}
			assertNoSecrets(t, err.Error())
			if readFile(t, local) != "DB:local" {
				t.Fatal("local file changed")
			}
			if left := leftovers(t, dir); len(left) > 0 {
				t.Fatalf("files left behind: %v", left)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	t.Run("small transfers are silent", func(t *testing.T) {
		var buf bytes.Buffer
		p := Progress(&buf, "up", false, 100)
		for _, d := range []int64{0, 50, 99} {
			p(d, 99)
		}
		if buf.Len() != 0 {
			t.Fatalf("output %q", buf.String())
		}
	})
	t.Run("lines at quarters", func(t *testing.T) {
		var buf bytes.Buffer
		p := Progress(&buf, "down", false, 100)
		for d := int64(0); d <= 4_000_000; d += 100_000 {
			p(d, 4_000_000)
		}
		p(4_000_000, 4_000_000)
		want := "down: 0.0 of 4.0 MB (0%)\ndown: 1.0 of 4.0 MB (25%)\ndown: 2.0 of 4.0 MB (50%)\n" +
			"down: 3.0 of 4.0 MB (75%)\ndown: 4.0 of 4.0 MB (100%)\n"
		if buf.String() != want {
			t.Fatalf("output\n%s\nwant\n%s", buf.String(), want)
		}
	})
	t.Run("tty redraws one line", func(t *testing.T) {
		var buf bytes.Buffer
		p := Progress(&buf, "down", true, 100)
		for d := int64(0); d <= 1000; d += 10 {
			p(d, 1000)
		}
		out := buf.String()
		if !strings.HasPrefix(out, "\rdown: 0.0 of 0.0 MB (0%)") || !strings.HasSuffix(out, "(100%)\n") || strings.Count(out, "\n") != 1 {
			t.Fatalf("output %q", out)
		}
	})
}
