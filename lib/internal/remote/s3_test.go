package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Test credentials: distinctive strings that must never show up in errors.
const (
	testKeyID  = "AKIATESTKEYID0000001"
	testSecret = "tEsTsEcReT/aCcEsS+kEy0000000000000000001"
	testToken  = "tEsTsEsSiOnToKeN0000000000000000000001"
)

// fakeS3 is gofakes3 behind an httptest server on 127.0.0.1, counting the
// object GETs that transferred a body.
type fakeS3 struct {
	url      string
	bodyGets atomic.Int64
	requests atomic.Int64
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func newFakeS3(t *testing.T, buckets ...string) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	h := gofakes3.New(backend).Server()
	f := &fakeS3{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		// Path-style object GET: /bucket/key (a listing has no key).
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
		if r.Method == http.MethodGet && rec.status == http.StatusOK && len(parts) == 2 && parts[1] != "" {
			f.bodyGets.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// testEnv is an isolated AWS environment pointing at endpoint: static
// credentials, no shared files, no instance metadata.
func testEnv(t *testing.T, endpoint string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	return map[string]string{
		"AWS_ENDPOINT_URL":            endpoint,
		"AWS_ACCESS_KEY_ID":           testKeyID,
		"AWS_SECRET_ACCESS_KEY":       testSecret,
		"AWS_SESSION_TOKEN":           testToken,
		"AWS_REGION":                  "us-east-1",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testKeyID, testSecret, testToken, "hunter22"} {
		if strings.Contains(s, secret) {
			t.Fatalf("credential %q appears in %q", secret, s)
		}
	}
	if strings.Contains(s, "\n") {
		t.Fatalf("message is not one line: %q", s)
	}
}

func TestS3(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t, "bkt")
	env := testEnv(t, fake.url)
	root := t.TempDir()
	src := filepath.Join(root, "src.db")
	local := filepath.Join(root, "local", "base.db")
	writeFile(t, src, strings.Repeat("v1", 3<<20)) // 6 MiB: several chunks

	c, err := Open("s3://bkt/ci/base.db", Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if c.String() != "s3://bkt/ci/base.db" {
		t.Fatalf("String() = %q", c.String())
	}
	sc := c.(*s3Client)
	if sc.cfg.Region != "us-east-1" {
		t.Fatalf("region %q", sc.cfg.Region)
	}

	var etag string
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"missing key", func(t *testing.T) {
			_, err := c.Fetch(ctx, local, "")
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("Fetch of a missing key: %v, want ErrNotFound", err)
			}
			if err.Error() != "s3://bkt/ci/base.db: object does not exist" {
				t.Fatalf("message %q", err)
			}
			if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("local file created")
			}
		}},
		{"upload", func(t *testing.T) {
			var last [2]int64
			cp, _ := Open("s3://bkt/ci/base.db", Options{Env: env, Progress: func(done, total int64) { last = [2]int64{done, total} }})
			etag, err = cp.Upload(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if etag == "" || strings.Contains(etag, `"`) {
				t.Fatalf("etag %q: want non-empty, unquoted", etag)
			}
			if last != [2]int64{6 << 20, 6 << 20} {
				t.Fatalf("last progress %v", last)
			}
		}},
		{"fetch", func(t *testing.T) {
			before := fake.bodyGets.Load()
			var last [2]int64
			cp, _ := Open("s3://bkt/ci/base.db", Options{Env: env, Progress: func(done, total int64) { last = [2]int64{done, total} }})
			res, err := cp.Fetch(ctx, local, "")
			if err != nil {
				t.Fatal(err)
			}
			if !res.Fetched || res.ETag != etag || res.Size != 6<<20 {
				t.Fatalf("Fetch = %+v, want fetched, etag %q", res, etag)
			}
			if readFile(t, local) != readFile(t, src) {
				t.Fatal("content differs")
			}
			if got := fake.bodyGets.Load() - before; got != 1 {
				t.Fatalf("%d body GETs, want 1", got)
			}
			if last != [2]int64{6 << 20, 6 << 20} {
				t.Fatalf("last progress %v", last)
			}
		}},
		{"etag skip", func(t *testing.T) {
			for _, tag := range []string{etag, `"` + etag + `"`} {
				before := fake.bodyGets.Load()
				res, err := c.Fetch(ctx, local, tag)
				if err != nil {
					t.Fatal(err)
				}
				if res.Fetched || res.ETag != etag || res.Size != 6<<20 {
					t.Fatalf("Fetch(%q) = %+v, want not fetched", tag, res)
				}
				if got := fake.bodyGets.Load() - before; got != 0 {
					t.Fatalf("%d body GETs with a matching etag, want 0", got)
				}
			}
		}},
		{"stale etag fetches", func(t *testing.T) {
			before := fake.bodyGets.Load()
			res, err := c.Fetch(ctx, local, "0123456789abcdef")
			if err != nil || !res.Fetched || res.ETag != etag {
				t.Fatalf("Fetch = %+v, %v", res, err)
			}
			if got := fake.bodyGets.Load() - before; got != 1 {
				t.Fatalf("%d body GETs, want 1", got)
			}
		}},
		{"changed object", func(t *testing.T) {
			writeFile(t, src, "v2")
			etag2, err := c.Upload(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if etag2 == etag {
				t.Fatal("etag unchanged")
			}
			res, err := c.Fetch(ctx, local, etag)
			if err != nil || !res.Fetched || res.ETag != etag2 || readFile(t, local) != "v2" {
				t.Fatalf("Fetch = %+v, %v", res, err)
			}
		}},
		{"no temp files left", func(t *testing.T) {
			if left := tempFiles(t, filepath.Dir(local)); len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, s.run)
	}
}

func TestS3List(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t, "bkt")
	env := testEnv(t, fake.url)
	src := filepath.Join(t.TempDir(), "x.db")
	writeFile(t, src, "x")
	for _, k := range []string{"run-1/b.db", "run-1/a.db", "run-1/c.txt", "run-1/sub/d.db", "run-10/e.db", "top.db"} {
		c, err := Open("s3://bkt/"+k, Options{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Upload(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix  string
		want    []string
		wantErr error
	}{
		{"s3://bkt/run-1/", []string{"s3://bkt/run-1/a.db", "s3://bkt/run-1/b.db"}, nil},
		{"s3://bkt/", []string{"s3://bkt/top.db"}, nil},
		{"s3://bkt/run-1/sub/", []string{"s3://bkt/run-1/sub/d.db"}, nil},
		{"s3://bkt/empty/", nil, nil},
		{"s3://nobucket/run-1/", nil, ErrNoBucket},
		{"s3://bkt/run-1", nil, ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got, err := List(ctx, tt.prefix, Options{Env: env})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("List error %v, want %v", err, tt.wantErr)
				}
				assertNoSecrets(t, err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("List = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestS3MissingBucket(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t, "bkt")
	env := testEnv(t, fake.url)
	src := filepath.Join(t.TempDir(), "x.db")
	writeFile(t, src, "x")
	c, err := Open("s3://nobucket/base.db", Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"fetch", func() error { _, err := c.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), ""); return err }},
		{"upload", func() error { _, err := c.Upload(ctx, src); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || err.Error() != "s3://nobucket/base.db: bucket does not exist" {
				t.Fatalf("error %v", err)
			}
			if !errors.Is(err, ErrNoBucket) || errors.Is(err, ErrNotFound) {
				t.Fatalf("error %v classified as %v", err, KindOf(err))
			}
		})
	}
}

// errorServer answers every request with the given status and S3 error body,
// which echoes the request's Authorization header and credentials the way a
// careless server might.
func errorServer(t *testing.T, status int, code string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if r.Method == http.MethodHead {
			return
		}
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>key %s secret %s token %s auth %s</Message><RequestId>1</RequestId></Error>`,
			code, testKeyID, testSecret, testToken, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestS3ErrorClassification(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "x.db")
	writeFile(t, src, "x")
	tests := []struct {
		name   string
		status int
		code   string
		kind   Kind
		want   string // substring of the message
	}{
		{"access denied", 403, "AccessDenied", KindAccessDenied, "access denied (check credentials"},
		{"invalid key", 403, "InvalidAccessKeyId", KindAccessDenied, "access key ID is not valid"},
		{"bad signature", 403, "SignatureDoesNotMatch", KindAccessDenied, "signature does not match"},
		{"expired token", 400, "ExpiredToken", KindAccessDenied, "session token is expired"},
		{"no such key", 404, "NoSuchKey", KindNotFound, "object does not exist"},
		{"no such bucket", 404, "NoSuchBucket", KindNoBucket, "bucket does not exist"},
		{"wrong region", 301, "PermanentRedirect", KindConfig, "another region"},
		{"archived", 403, "InvalidObjectState", KindInvalid, "not a valid object"},
		{"server error", 501, "NotImplemented", KindOther, "server error (HTTP 501"},
		{"other client error", 400, "InvalidArgument", KindOther, "request failed (HTTP 400): InvalidArgument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t, errorServer(t, tt.status, tt.code))
			c, err := Open("s3://bkt/base.db", Options{Env: env})
			if err != nil {
				t.Fatal(err)
			}
			ops := map[string]func() error{
				"fetch":  func() error { _, err := c.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), ""); return err },
				"upload": func() error { _, err := c.Upload(ctx, src); return err },
			}
			for op, run := range ops {
				err := run()
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				if KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s: error %q (kind %v), want kind %v containing %q", op, err, KindOf(err), tt.kind, tt.want)
				}
				if !strings.HasPrefix(err.Error(), "s3://bkt/base.db: ") {
					t.Fatalf("%s: error %q does not start with the URL", op, err)
				}
				assertNoSecrets(t, err.Error())
			}
		})
	}
}

func TestS3Unreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	endpoint := "http://" + addr
	env := testEnv(t, endpoint)
	ctx := context.Background()
	c, err := Open("s3://bkt/base.db", Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "x.db")
	writeFile(t, src, "x")
	tests := []struct {
		name string
		run  func() error
	}{
		{"fetch", func() error { _, err := c.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), ""); return err }},
		{"upload", func() error { _, err := c.Upload(ctx, src); return err }},
		{"list", func() error { _, err := List(ctx, "s3://bkt/p/", Options{Env: env}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := tt.run()
			elapsed := time.Since(start)
			want := "s3://bkt/" // base.db or p/
			if err == nil || !strings.HasPrefix(err.Error(), want) ||
				!strings.HasSuffix(err.Error(), ": cannot reach endpoint "+endpoint+": connection refused") {
				t.Fatalf("error %v", err)
			}
			if !errors.Is(err, ErrUnreachable) {
				t.Fatalf("kind %v", KindOf(err))
			}
			if elapsed > 15*time.Second {
				t.Fatalf("took %v", elapsed)
			}
			assertNoSecrets(t, err.Error())
		})
	}
}

// TestS3Cancelled checks that a download cut short leaves neither a partial
// file at the destination nor a temporary file, and keeps an existing file.
func TestS3Cancelled(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(200)
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	tests := []struct {
		name     string
		existing string // content of the local file before, "" for none
	}{
		{"no local file", ""},
		{"existing local file", "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			local := filepath.Join(dir, "base.db")
			if tt.existing != "" {
				writeFile(t, local, tt.existing)
			}
			c, err := Open("s3://bkt/base.db", Options{Env: testEnv(t, srv.URL)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() { <-started; cancel() }()
			_, err = c.Fetch(ctx, local, "")
			if !errors.Is(err, ErrCanceled) {
				t.Fatalf("error %v (kind %v), want cancelled", err, KindOf(err))
			}
			got, rerr := os.ReadFile(local)
			switch {
			case tt.existing == "" && !errors.Is(rerr, os.ErrNotExist):
				t.Fatalf("partial file left: %d bytes", len(got))
			case tt.existing != "" && string(got) != tt.existing:
				t.Fatalf("existing file changed to %d bytes", len(got))
			}
			if left := tempFiles(t, dir); len(left) > 0 {
				t.Fatalf("temporary files left: %v", left)
			}
		})
	}
}

// TestS3TruncatedBody: a body shorter than Content-Length is an error and
// leaves nothing behind.
func TestS3TruncatedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(200)
		w.Write(make([]byte, 1000))
		// Returning closes the connection: the body is truncated.
		hj, ok := w.(http.Hijacker)
		if ok {
			conn, _, _ := hj.Hijack()
			conn.Close()
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	local := filepath.Join(dir, "base.db")
	c, err := Open("s3://bkt/base.db", Options{Env: testEnv(t, srv.URL)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(context.Background(), local, "")
	if err == nil || KindOf(err) != KindUnreachable {
		t.Fatalf("error %v (kind %v)", err, KindOf(err))
	}
	if _, err := os.Stat(local); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("partial file left")
	}
	if left := tempFiles(t, dir); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestS3Config covers the configuration resolved from Options.Env: profiles
// from shared files, region defaults and precedence over the process
// environment.
func TestS3Config(t *testing.T) {
	fake := newFakeS3(t, "bkt")
	dir := t.TempDir()
	credFile := filepath.Join(dir, "credentials")
	cfgFile := filepath.Join(dir, "config")
	writeFile(t, credFile, fmt.Sprintf("[p1]\naws_access_key_id = %s\naws_secret_access_key = %s\n", testKeyID, testSecret))
	writeFile(t, cfgFile, "[profile p1]\nregion = eu-west-3\n")
	// The process environment must not leak in where Env decides.
	t.Setenv("AWS_REGION", "ap-south-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")

	base := func() map[string]string {
		return map[string]string{
			"AWS_ENDPOINT_URL":            fake.url,
			"AWS_CONFIG_FILE":             cfgFile,
			"AWS_SHARED_CREDENTIALS_FILE": credFile,
			"AWS_EC2_METADATA_DISABLED":   "true",
			"AWS_REGION":                  "", // present and empty: unset for Python
		}
	}
	tests := []struct {
		name       string
		edit       func(env map[string]string)
		wantRegion string
		openErr    string // substring of an Open error
		fetchKind  Kind   // expected kind of the Fetch error (missing object)
	}{
		{name: "profile from shared files", edit: func(e map[string]string) { e["AWS_PROFILE"] = "p1" },
			wantRegion: "eu-west-3", fetchKind: KindNotFound},
		{name: "env region beats profile", edit: func(e map[string]string) { e["AWS_PROFILE"] = "p1"; e["AWS_DEFAULT_REGION"] = "us-west-2" },
			wantRegion: "us-west-2", fetchKind: KindNotFound},
		{name: "static keys", edit: func(e map[string]string) { e["AWS_ACCESS_KEY_ID"] = testKeyID; e["AWS_SECRET_ACCESS_KEY"] = testSecret },
			wantRegion: "us-east-1", fetchKind: KindNotFound},
		{name: "endpoint s3 beats generic", edit: func(e map[string]string) {
			e["AWS_PROFILE"] = "p1"
			e["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"
			e["AWS_ENDPOINT_URL_S3"] = fake.url
		}, wantRegion: "eu-west-3", fetchKind: KindNotFound},
		{name: "missing profile", edit: func(e map[string]string) { e["AWS_PROFILE"] = "nope" },
			openErr: `AWS profile "nope" not found`},
		{name: "key without secret", edit: func(e map[string]string) { e["AWS_ACCESS_KEY_ID"] = testKeyID },
			openErr: "AWS_SECRET_ACCESS_KEY is not"},
		{name: "bad endpoint", edit: func(e map[string]string) { e["AWS_ENDPOINT_URL"] = "127.0.0.1:9000" },
			openErr: "invalid endpoint URL"},
		{name: "no credentials", edit: func(e map[string]string) {}, wantRegion: "us-east-1", fetchKind: KindCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := base()
			tt.edit(env)
			c, err := Open("s3://bkt/missing.db", Options{Env: env})
			if tt.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.openErr) {
					t.Fatalf("Open error %v, want %q", err, tt.openErr)
				}
				assertNoSecrets(t, err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r := c.(*s3Client).cfg.Region; r != tt.wantRegion {
				t.Fatalf("region %q, want %q", r, tt.wantRegion)
			}
			_, err = c.Fetch(context.Background(), filepath.Join(t.TempDir(), "l.db"), "")
			if KindOf(err) != tt.fetchKind {
				t.Fatalf("Fetch error %v (kind %v), want kind %v", err, KindOf(err), tt.fetchKind)
			}
			assertNoSecrets(t, err.Error())
		})
	}
}

// TestS3Quiet checks that the SDK writes nothing to stderr or stdout, even
// on failures and retries.
func TestS3Quiet(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldErr, oldOut := os.Stderr, os.Stdout
	os.Stderr, os.Stdout = w, w
	func() {
		defer func() { os.Stderr, os.Stdout = oldErr, oldOut }()
		fake := newFakeS3(t, "bkt")
		env := testEnv(t, fake.url)
		src := filepath.Join(t.TempDir(), "x.db")
		writeFile(t, src, "x")
		c, err := Open("s3://bkt/base.db", Options{Env: env})
		if err != nil {
			t.Error(err)
			return
		}
		ctx := context.Background()
		c.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), "")
		c.Upload(ctx, src)
		c.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), "")
		bad, _ := Open("s3://bkt/base.db", Options{Env: testEnv(t, errorServer(t, 503, "SlowDown"))})
		bad.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), "")
	}()
	w.Close()
	out, _ := io.ReadAll(r)
	if len(out) > 0 {
		t.Fatalf("output written: %q", out)
	}
}

// setTimeouts shortens the network limits for one test.
func setTimeouts(t *testing.T, response, idle time.Duration) {
	t.Helper()
	oldResponse, oldIdle := responseTimeout, idleTimeout
	responseTimeout, idleTimeout = response, idle
	t.Cleanup(func() { responseTimeout, idleTimeout = oldResponse, oldIdle })
}

// TestS3Hung: an endpoint that accepts connections but never answers, or
// stops in the middle of a body, fails within the limits, not after the
// retries of each attempt add up.
func TestS3Hung(t *testing.T) {
	setTimeouts(t, 500*time.Millisecond, 500*time.Millisecond)
	done := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(200)
		w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer stall.Close()
	defer close(done)

	src := filepath.Join(t.TempDir(), "x.db")
	writeFile(t, src, "x")
	ctx := context.Background()
	tests := []struct {
		name     string
		endpoint string
		run      func(c Client, env map[string]string) error
		want     string
	}{
		{"fetch no answer", hang.URL, func(c Client, _ map[string]string) error {
			_, err := c.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), "")
			return err
		}, "cannot reach endpoint " + hang.URL + ": no answer within 500ms"},
		{"upload no answer", hang.URL, func(c Client, _ map[string]string) error {
			_, err := c.Upload(ctx, src)
			return err
		}, "cannot reach endpoint " + hang.URL + ": no answer within 500ms"},
		{"list no answer", hang.URL, func(_ Client, env map[string]string) error {
			_, err := List(ctx, "s3://bkt/p/", Options{Env: env})
			return err
		}, "cannot reach endpoint " + hang.URL + ": no answer within 500ms"},
		{"fetch stalled body", stall.URL, func(c Client, _ map[string]string) error {
			_, err := c.Fetch(ctx, filepath.Join(t.TempDir(), "l.db"), "")
			return err
		}, "transfer stalled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t, tt.endpoint)
			c, err := Open("s3://bkt/base.db", Options{Env: env})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = tt.run(c, env)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Fatalf("took %v", elapsed)
			}
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v (kind %v), want %q", err, KindOf(err), tt.want)
			}
		})
	}
}

// TestS3OneHTTPClient: every call of a process shares one HTTP client (per
// configuration), so connections are reused and none is left behind per
// call: twenty calls leave no more connection goroutines than one.
func TestS3OneHTTPClient(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t, "bkt")
	env := testEnv(t, fake.url)
	local := filepath.Join(t.TempDir(), "base.db")
	fetch := func() *s3Client {
		c, err := Open("s3://bkt/missing.db", Options{Env: env})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(ctx, local, ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Fetch: %v, want ErrNotFound", err)
		}
		return c.(*s3Client)
	}
	first := fetch()
	after1 := runtime.NumGoroutine()
	for range 20 {
		if c := fetch(); c.client.Options().HTTPClient != first.client.Options().HTTPClient {
			t.Fatal("a call built its own HTTP client")
		}
	}
	// Each client built per call left an idle connection: a read and a
	// write goroutine here, one on the server side.
	if n := runtime.NumGoroutine(); n > after1+3 {
		t.Fatalf("%d goroutines after 21 calls, %d after one: connections left behind", n, after1)
	}

	other := testEnv(t, fake.url)
	other["AWS_CA_BUNDLE"] = filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, other["AWS_CA_BUNDLE"], "not a certificate")
	if _, err := Open("s3://bkt/missing.db", Options{Env: other}); err == nil || !strings.Contains(err.Error(), "AWS_CA_BUNDLE holds no PEM certificate") {
		t.Fatalf("Open with a bad CA bundle: %v", err)
	}
}
