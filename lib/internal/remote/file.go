package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// fileClient implements Client for file:// URLs: a plain copy. Its ETag is the
// hex SHA-256 of the content, so an unchanged file is not copied again even
// when it was rewritten with the same bytes or its mtime is coarse.
type fileClient struct {
	loc  location
	opts Options
}

func newFileClient(loc location, opts Options) *fileClient {
	return &fileClient{loc: loc, opts: opts}
}

func (c *fileClient) String() string { return c.loc.String() }

func (c *fileClient) Fetch(ctx context.Context, localPath, etag string) (FetchResult, error) {
	src := c.loc.path
	fi, err := os.Stat(src)
	if err != nil {
		return FetchResult{}, c.fsError(err, "")
	}
	if !fi.Mode().IsRegular() {
		return FetchResult{}, newError(c.String(), KindInvalid, "not a valid object (not a regular file)")
	}
	etag = normalizeETag(etag)
	if etag != "" {
		if lfi, err := os.Stat(localPath); err == nil && lfi.Mode().IsRegular() {
			sum, err := hashFile(ctx, src, sha256.New())
			if err != nil {
				return FetchResult{}, c.fsError(err, "")
			}
			if hex.EncodeToString(sum) == etag {
				return FetchResult{Fetched: false, ETag: etag, Size: lfi.Size()}, nil
			}
		}
	}
	f, err := os.Open(src)
	if err != nil {
		return FetchResult{}, c.fsError(err, "")
	}
	defer f.Close()
	h := sha256.New()
	n, err := writeAtomic(ctx, localPath, f, fi.Size(), h, c.opts.Progress)
	if err != nil {
		var re *readError
		if isCtxErr(err) || errors.As(err, &re) {
			return FetchResult{}, c.fsError(err, "cannot read: ")
		}
		if errors.Is(err, errIncomplete) {
			return FetchResult{}, newError(c.String(), KindOther, "file changed while being copied; try again")
		}
		return FetchResult{}, newError(c.String(), KindLocal, "cannot write "+localPath+": "+fsCause(err))
	}
	return FetchResult{Fetched: true, ETag: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

func (c *fileClient) Upload(ctx context.Context, localPath string) (string, error) {
	f, err := os.Open(localPath)
	if err != nil {
		return "", newError(c.String(), KindLocal, "cannot read "+localPath+": "+fsCause(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", newError(c.String(), KindLocal, "cannot read "+localPath+": "+fsCause(err))
	}
	if !fi.Mode().IsRegular() {
		return "", newError(c.String(), KindLocal, "cannot read "+localPath+": not a regular file")
	}
	h := sha256.New()
	if _, err := writeAtomic(ctx, c.loc.path, f, fi.Size(), h, c.opts.Progress); err != nil {
		if isCtxErr(err) {
			return "", ctxError(c.String(), err)
		}
		return "", c.fsError(err, "cannot write: ")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// list returns the file:// URLs of the *.db regular files (or links to them)
// directly inside the prefix directory.
func (c *fileClient) list() ([]string, error) {
	dir := c.loc.path
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, newError(c.String(), KindNotFound, "directory does not exist")
		}
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, newError(c.String(), KindInvalid, "not a directory")
		}
		return nil, c.fsError(err, "")
	}
	var urls []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".db") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p) // follows links
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		urls = append(urls, fileURL(p))
	}
	return urls, nil
}

// fsError classifies an error about the remote file.
func (c *fileClient) fsError(err error, prefix string) error {
	switch {
	case isCtxErr(err):
		return ctxError(c.String(), err)
	case errors.Is(err, fs.ErrNotExist):
		return newError(c.String(), KindNotFound, prefix+"file does not exist")
	case errors.Is(err, fs.ErrPermission):
		return newError(c.String(), KindAccessDenied, prefix+"permission denied")
	default:
		return newError(c.String(), KindOther, prefix+fsCause(err))
	}
}

// fsCause renders a file system error without repeating the path.
func fsCause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op + ": " + le.Err.Error()
	}
	return err.Error()
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func ctxError(url string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return newError(url, KindUnreachable, "timed out")
	}
	return newError(url, KindCanceled, "cancelled")
}

// normalizeETag strips surrounding quotes (S3 returns `"abc"`), so ETags
// compare equal whatever form the caller cached.
func normalizeETag(etag string) string {
	etag = strings.TrimSpace(etag)
	if len(etag) >= 2 && strings.HasPrefix(etag, `"`) && strings.HasSuffix(etag, `"`) {
		etag = etag[1 : len(etag)-1]
	}
	return etag
}
