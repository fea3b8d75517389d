// Package remote moves baseline databases between the local disk and a remote
// store named by a URL.
//
// In the manner of Litestream there is one small interface, Client, and one
// implementation per URL scheme, chosen by the scheme:
//
//	s3://bucket/path/key.db     Amazon S3 or an S3-compatible store
//	file:///abs/path/key.db     a plain file (shared disk, tests)
//
// Configuration is passed explicitly in Options: Go copies the process
// environment once when the runtime starts, so variables that Python sets later
// in os.environ are invisible to os.Getenv. The plugin hands over the AWS_*
// variables it sees at call time in Options.Env; they take precedence over the
// Go process environment.
//
// Every error returned by this package is a single line of the form
// "<url>: <cause in plain words>" and never contains credentials. Errors can be
// classified with errors.Is against the sentinel errors below, or with KindOf.
package remote

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Options carries configuration explicitly (see the package comment).
type Options struct {
	// Env is the AWS-related environment as seen by Python (AWS_ENDPOINT_URL,
	// AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE,
	// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
	// AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CA_BUNDLE,
	// AWS_EC2_METADATA_DISABLED, ...). A key present here, even with an empty
	// value, takes precedence over the Go process environment for the values
	// this package resolves itself.
	Env map[string]string
	// Progress, if set, is called from the calling goroutine while a transfer
	// runs, with the bytes done so far and the total (-1 when unknown). It is
	// called at most once per chunk and once more at the end.
	Progress func(done, total int64)
}

// Client is one remote object.
type Client interface {
	// Fetch brings the object to localPath atomically (temp file in the same
	// directory + rename). If etag is non-empty, localPath exists and etag
	// equals the remote ETag, nothing is downloaded and Fetched is false. A
	// missing object returns an error matching ErrNotFound.
	Fetch(ctx context.Context, localPath, etag string) (FetchResult, error)
	// Upload uploads localPath to the object and returns the new ETag, the
	// value a later Fetch compares against.
	Upload(ctx context.Context, localPath string) (etag string, err error)
	// String returns the URL, never containing credentials.
	String() string
}

// FetchResult tells what Fetch did.
type FetchResult struct {
	// Fetched is true when the object was downloaded to localPath.
	Fetched bool
	// ETag is the remote object's ETag (without quotes); the caller caches it
	// and passes it to the next Fetch.
	ETag string
	// Size is the size of the local copy in bytes (-1 if unknown).
	Size int64
}

// Schemes supported by Open and List.
const (
	SchemeS3   = "s3"
	SchemeFile = "file"
)

// IsRemote reports whether s looks like a URL handled by this package
// ("s3://..." or "file://..."), as opposed to a local path.
func IsRemote(s string) bool {
	ls := strings.ToLower(s)
	return strings.HasPrefix(ls, "s3://") || strings.HasPrefix(ls, "file://")
}

// IsPrefix reports whether s is a remote URL naming a prefix (ending in "/"),
// the form List accepts.
func IsPrefix(s string) bool {
	return IsRemote(s) && strings.HasSuffix(s, "/")
}

// Open parses rawURL and returns the client for that object. It does not
// contact the remote. Errors are usage errors (ErrUsage) for a malformed URL
// and configuration errors (ErrConfig) for an unusable AWS configuration.
func Open(rawURL string, opts Options) (Client, error) {
	loc, err := parseURL(rawURL, false)
	if err != nil {
		return nil, err
	}
	switch loc.scheme {
	case SchemeS3:
		return newS3Client(loc, opts)
	default:
		return newFileClient(loc, opts), nil
	}
}

// List returns the URLs of the objects directly under prefixURL (which ends
// in "/": "s3://bucket/run-1/" or "file:///dir/") whose names end in ".db",
// sorted. Deeper levels are not searched. An empty S3 prefix gives an empty
// list; a missing directory gives an error matching ErrNotFound.
func List(ctx context.Context, prefixURL string, opts Options) ([]string, error) {
	loc, err := parseURL(prefixURL, true)
	if err != nil {
		return nil, err
	}
	var urls []string
	switch loc.scheme {
	case SchemeS3:
		c, err := newS3Client(loc, opts)
		if err != nil {
			return nil, err
		}
		urls, err = c.list(ctx)
		if err != nil {
			return nil, err
		}
	default:
		urls, err = newFileClient(loc, opts).list()
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(urls)
	return urls, nil
}

// location is a parsed URL.
type location struct {
	scheme string
	bucket string // s3
	key    string // s3: object key or prefix ("" for the bucket root)
	path   string // file: absolute, cleaned; a prefix keeps its trailing "/"
}

func (l location) String() string {
	switch l.scheme {
	case SchemeS3:
		return "s3://" + l.bucket + "/" + l.key
	default:
		return fileURL(l.path)
	}
}

// fileURL renders an absolute path as a file:// URL.
func fileURL(p string) string {
	return (&url.URL{Scheme: SchemeFile, Path: p}).String()
}

// parseURL validates rawURL. With prefix, the URL must end in "/" (a prefix
// for List); without, it must not (an object for Open).
func parseURL(rawURL string, prefix bool) (location, error) {
	shown := safeURL(rawURL)
	bad := func(format string, a ...any) (location, error) {
		return location{}, usageError(shown, fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(rawURL) == "" {
		return location{}, usageError(`""`, "empty remote URL")
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return bad("not a remote URL (expected s3://bucket/key.db or file:///abs/path/key.db)")
	}
	scheme = strings.ToLower(scheme)
	if prefix && !strings.HasSuffix(rest, "/") {
		return bad(`a prefix must end in "/"`)
	}
	if !prefix && strings.HasSuffix(rest, "/") {
		return bad(`names a prefix (ends in "/"), not an object`)
	}
	switch scheme {
	case SchemeS3:
		bucket, key, _ := strings.Cut(rest, "/")
		if strings.Contains(bucket, "@") {
			return bad("credentials in the URL are not supported (use the AWS configuration)")
		}
		if bucket == "" {
			return bad("missing bucket name")
		}
		if strings.ContainsAny(bucket, " \t\r\n?#") {
			return bad("invalid bucket name")
		}
		if !prefix && key == "" {
			return bad("missing object key")
		}
		if strings.ContainsAny(key, "\r\n") {
			return bad("invalid object key")
		}
		return location{scheme: SchemeS3, bucket: bucket, key: key}, nil
	case SchemeFile:
		u, err := url.Parse(SchemeFile + "://" + rest)
		if err != nil {
			return bad("malformed file URL")
		}
		if u.User != nil {
			return bad("credentials in the URL are not supported")
		}
		if u.Host != "" && u.Host != "localhost" {
			return bad("relative or non-local file path (use file:///absolute/path)")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return bad(`"?" and "#" are not allowed in file URLs (percent-encode them)`)
		}
		p := u.Path
		if p == "" || !path.IsAbs(p) {
			return bad("relative file path (use file:///absolute/path)")
		}
		clean := filepath.Clean(filepath.FromSlash(p))
		if prefix {
			if clean != string(filepath.Separator) {
				clean += string(filepath.Separator)
			}
		} else if clean == string(filepath.Separator) {
			return bad("missing file name")
		}
		return location{scheme: SchemeFile, path: clean}, nil
	case "":
		return bad("missing URL scheme")
	default:
		return bad("unknown scheme %q (supported: s3://, file://)", scheme)
	}
}

// safeURL returns rawURL with any user information ("user:secret@") removed,
// for use in messages.
func safeURL(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return fmt.Sprintf("%q", oneLine(rawURL))
	}
	authority, tail, hasTail := strings.Cut(rest, "/")
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		authority = "***@" + authority[i+1:]
	}
	s := scheme + "://" + authority
	if hasTail {
		s += "/" + tail
	}
	return oneLine(s)
}
