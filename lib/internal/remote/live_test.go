package remote

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLiveEndpoint runs the client against a real S3-compatible server on
// loopback, e.g. `python3 -m moto.server -H 127.0.0.1 -p 5599`:
//
//	REMOTE_TEST_S3_ENDPOINT=http://127.0.0.1:5599 go test -run Live ./lib/remote/
//
// It is skipped unless REMOTE_TEST_S3_ENDPOINT is set; only loopback
// endpoints are accepted. The bucket is created with a plain PUT (moto does
// not check signatures).
func TestLiveEndpoint(t *testing.T) {
	endpoint := os.Getenv("REMOTE_TEST_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("REMOTE_TEST_S3_ENDPOINT not set")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		t.Fatalf("REMOTE_TEST_S3_ENDPOINT must be a loopback http URL, got %q", endpoint)
	}
	ctx := context.Background()
	bucket := "difftest-live-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000000"), ".", ""))
	req, _ := http.NewRequest(http.MethodPut, strings.TrimSuffix(endpoint, "/")+"/"+bucket, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("creating bucket: HTTP %d", resp.StatusCode)
	}
	env := testEnv(t, endpoint)
	root := t.TempDir()
	src := filepath.Join(root, "src.db")
	local := filepath.Join(root, "local.db")
	writeFile(t, src, strings.Repeat("live", 1<<20)) // 4 MiB: Expect: 100-continue path

	c, err := Open("s3://"+bucket+"/ci/base.db", Options{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(ctx, local, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	etag, err := c.Upload(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("upload etag %q", etag)
	res, err := c.Fetch(ctx, local, "")
	if err != nil || !res.Fetched || res.ETag != etag || readFile(t, local) != readFile(t, src) {
		t.Fatalf("fetch: %+v, %v", res, err)
	}
	res, err = c.Fetch(ctx, local, etag)
	if err != nil || res.Fetched {
		t.Fatalf("etag skip: %+v, %v", res, err)
	}
	urls, err := List(ctx, "s3://"+bucket+"/ci/", Options{Env: env})
	if err != nil || len(urls) != 1 || urls[0] != "s3://"+bucket+"/ci/base.db" {
		t.Fatalf("list: %v, %v", urls, err)
	}
	missing, _ := Open("s3://"+bucket+"-missing/base.db", Options{Env: env})
	_, err = missing.Fetch(ctx, local, "")
	t.Logf("missing bucket: %v", err)
	if !errors.Is(err, ErrNoBucket) {
		t.Fatalf("missing bucket: %v", err)
	}
	assertNoSecrets(t, err.Error())
}
