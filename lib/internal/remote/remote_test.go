package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		prefix  bool
		want    string // String() of the location; "" when an error is expected
		wantErr string // substring of the error
	}{
		{name: "s3 object", url: "s3://bkt/base.db", want: "s3://bkt/base.db"},
		{name: "s3 nested key", url: "s3://bkt/a/b/base.db", want: "s3://bkt/a/b/base.db"},
		{name: "s3 upper scheme", url: "S3://bkt/base.db", want: "s3://bkt/base.db"},
		{name: "s3 key with space", url: "s3://bkt/my base.db", want: "s3://bkt/my base.db"},
		{name: "s3 empty bucket", url: "s3:///base.db", wantErr: "missing bucket name"},
		{name: "s3 empty key", url: "s3://bkt", wantErr: "missing object key"},
		{name: "s3 key is prefix", url: "s3://bkt/dir/", wantErr: "names a prefix"},
		{name: "s3 bucket only slash", url: "s3://bkt/", wantErr: "names a prefix"},
		{name: "s3 credentials in URL", url: "s3://AKIDSECRET:hunter22@bkt/base.db", wantErr: "credentials in the URL"},
		{name: "s3 prefix", url: "s3://bkt/run-1/", prefix: true, want: "s3://bkt/run-1/"},
		{name: "s3 bucket root prefix", url: "s3://bkt/", prefix: true, want: "s3://bkt/"},
		{name: "s3 prefix without slash", url: "s3://bkt/run-1", prefix: true, wantErr: `must end in "/"`},
		{name: "file object", url: "file:///tmp/x/base.db", want: "file:///tmp/x/base.db"},
		{name: "file localhost", url: "file://localhost/tmp/base.db", want: "file:///tmp/base.db"},
		{name: "file percent-encoded", url: "file:///tmp/my%20dir/base.db", want: "file:///tmp/my%20dir/base.db"},
		{name: "file cleaned", url: "file:///tmp/./x/../base.db", want: "file:///tmp/base.db"},
		{name: "file relative", url: "file://rel/base.db", wantErr: "relative"},
		{name: "file relative no slash", url: "file://base.db", wantErr: "relative"},
		{name: "file root", url: "file:///", prefix: true, want: "file:///"},
		{name: "file dir is prefix", url: "file:///tmp/", wantErr: "names a prefix"},
		{name: "file prefix", url: "file:///tmp/runs/", prefix: true, want: "file:///tmp/runs/"},
		{name: "unknown scheme", url: "gs://bkt/base.db", wantErr: `unknown scheme "gs"`},
		{name: "no scheme", url: "/tmp/base.db", wantErr: "not a remote URL"},
		{name: "empty", url: "", wantErr: "empty remote URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := parseURL(tt.url, tt.prefix)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseURL(%q) = %v, want error containing %q", tt.url, loc, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrUsage) || KindOf(err) != KindUsage {
					t.Fatalf("error %q is not a usage error", err)
				}
				if strings.Contains(err.Error(), "hunter22") {
					t.Fatalf("error %q shows the password from the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseURL(%q): %v", tt.url, err)
			}
			if got := loc.String(); got != tt.want {
				t.Fatalf("parseURL(%q).String() = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestIsRemote(t *testing.T) {
	tests := []struct {
		in             string
		remote, prefix bool
	}{
		{"s3://b/k.db", true, false},
		{"S3://b/", true, true},
		{"file:///d/", true, true},
		{"/tmp/x.db", false, false},
		{"x.db", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := IsRemote(tt.in); got != tt.remote {
				t.Errorf("IsRemote(%q) = %v", tt.in, got)
			}
			if got := IsPrefix(tt.in); got != tt.prefix {
				t.Errorf("IsPrefix(%q) = %v", tt.in, got)
			}
		})
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tempFiles returns the names of leftover temporary files in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestFile(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	remoteDir := filepath.Join(root, "remote", "sub") // does not exist yet
	remoteURL := fileURL(filepath.Join(remoteDir, "base.db"))
	local := filepath.Join(root, "local", "base.db")
	src := filepath.Join(root, "src.db")
	writeFile(t, src, "version-1")

	c, err := Open(remoteURL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.String() != remoteURL {
		t.Fatalf("String() = %q, want %q", c.String(), remoteURL)
	}

	var etag string
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"missing object", func(t *testing.T) {
			_, err := c.Fetch(ctx, local, "")
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Fetch of a missing file: %v, want ErrNotFound", err)
			}
			if !strings.HasPrefix(err.Error(), remoteURL+": ") {
				t.Fatalf("error %q does not start with the URL", err)
			}
			if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("local file created: %v", err)
			}
		}},
		{"upload creates parent", func(t *testing.T) {
			etag, err = c.Upload(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if etag == "" {
				t.Fatal("empty etag")
			}
			if got := readFile(t, filepath.Join(remoteDir, "base.db")); got != "version-1" {
				t.Fatalf("remote content %q", got)
			}
		}},
		{"fetch", func(t *testing.T) {
			var calls int
			var last [2]int64
			c2, _ := Open(remoteURL, Options{Progress: func(done, total int64) { calls++; last = [2]int64{done, total} }})
			res, err := c2.Fetch(ctx, local, "")
			if err != nil {
				t.Fatal(err)
			}
			if !res.Fetched || res.ETag != etag || res.Size != int64(len("version-1")) {
				t.Fatalf("Fetch = %+v, want fetched with etag %q", res, etag)
			}
			if got := readFile(t, local); got != "version-1" {
				t.Fatalf("local content %q", got)
			}
			if calls == 0 || last != [2]int64{9, 9} {
				t.Fatalf("progress: %d calls, last %v", calls, last)
			}
		}},
		{"etag skip", func(t *testing.T) {
			writeFile(t, local, "local edits are kept when the remote is unchanged")
			res, err := c.Fetch(ctx, local, etag)
			if err != nil {
				t.Fatal(err)
			}
			if res.Fetched || res.ETag != etag {
				t.Fatalf("Fetch = %+v, want not fetched", res)
			}
			if got := readFile(t, local); !strings.HasPrefix(got, "local edits") {
				t.Fatalf("local file replaced: %q", got)
			}
		}},
		{"etag skip needs the local file", func(t *testing.T) {
			os.Remove(local)
			res, err := c.Fetch(ctx, local, etag)
			if err != nil || !res.Fetched {
				t.Fatalf("Fetch = %+v, %v; want fetched", res, err)
			}
		}},
		{"changed remote is fetched", func(t *testing.T) {
			writeFile(t, src, "version-2")
			etag2, err := c.Upload(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if etag2 == etag {
				t.Fatal("etag unchanged after upload of new content")
			}
			res, err := c.Fetch(ctx, local, etag)
			if err != nil || !res.Fetched || res.ETag != etag2 {
				t.Fatalf("Fetch = %+v, %v; want fetched with %q", res, err, etag2)
			}
			if got := readFile(t, local); got != "version-2" {
				t.Fatalf("local content %q", got)
			}
		}},
		{"no temp files left", func(t *testing.T) {
			for _, d := range []string{remoteDir, filepath.Dir(local)} {
				if left := tempFiles(t, d); len(left) > 0 {
					t.Fatalf("temporary files left in %s: %v", d, left)
				}
			}
		}},
		{"upload of missing local file", func(t *testing.T) {
			_, err := c.Upload(ctx, filepath.Join(root, "nope.db"))
			if KindOf(err) != KindLocal || errors.Is(err, ErrNotFound) {
				t.Fatalf("Upload of a missing local file: %v (kind %v)", err, KindOf(err))
			}
		}},
		{"directory is not an object", func(t *testing.T) {
			os.MkdirAll(filepath.Join(root, "dir.db"), 0o755)
			c3, _ := Open(fileURL(filepath.Join(root, "dir.db")), Options{})
			_, err := c3.Fetch(ctx, local, "")
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a valid object") {
				t.Fatalf("Fetch of a directory: %v", err)
			}
		}},
		{"cancelled fetch", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			other := filepath.Join(root, "other", "x.db")
			_, err := c.Fetch(cctx, other, "")
			if !errors.Is(err, ErrCanceled) {
				t.Fatalf("cancelled Fetch: %v", err)
			}
			if _, err := os.Stat(other); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("cancelled Fetch left %s", other)
			}
			if left := tempFiles(t, filepath.Dir(other)); len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, s.run)
	}
}

func TestFileList(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"b.db", "a.db", "c.txt", "sub/d.db", "x.db-wal"} {
		writeFile(t, filepath.Join(root, "runs", n), n)
	}
	os.MkdirAll(filepath.Join(root, "runs", "dir.db"), 0o755)
	tests := []struct {
		name    string
		prefix  string
		want    []string
		wantErr error
	}{
		{"dir", fileURL(filepath.Join(root, "runs")) + "/", []string{
			fileURL(filepath.Join(root, "runs", "a.db")), fileURL(filepath.Join(root, "runs", "b.db")),
		}, nil},
		{"empty dir", fileURL(filepath.Join(root, "runs", "sub", "..", "sub")) + "/", []string{fileURL(filepath.Join(root, "runs", "sub", "d.db"))}, nil},
		{"missing dir", fileURL(filepath.Join(root, "nope")) + "/", nil, ErrNotFound},
		{"not a prefix", fileURL(filepath.Join(root, "runs")), nil, ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := List(context.Background(), tt.prefix, Options{})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("List(%q) error %v, want %v", tt.prefix, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("List(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}

func TestWatchdog(t *testing.T) {
	var got atomic.Value
	fired := make(chan struct{})
	w := newWatchdog(20*time.Millisecond, errNoAnswer, func(cause error) { got.Store(cause); close(fired) })
	for i := 0; i < 5; i++ {
		time.Sleep(5 * time.Millisecond)
		w.arm(20*time.Millisecond, errStalled)
	}
	select {
	case <-fired:
		t.Fatal("watchdog fired while re-armed")
	default:
	}
	select {
	case <-fired:
	case <-time.After(2 * time.Second):
		t.Fatal("watchdog did not fire")
	}
	if got.Load() != errStalled {
		t.Fatalf("cause %v, want %v", got.Load(), errStalled)
	}
}
