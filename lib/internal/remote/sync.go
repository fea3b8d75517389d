package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Pull and Push keep one local file (the baseline database) in step with one
// remote object. What the local file was last synchronised with, the remote
// URL and its ETag, is cached in a small state file next to it
// (<local>.etag by default), written only after a complete download or
// upload, so that an unchanged remote is never downloaded twice (SPEC 7.2).

// SyncOptions configures Pull and Push.
type SyncOptions struct {
	Options
	// StatePath is the ETag cache; "" means localPath + ".etag".
	StatePath string
	// Validate, if set, checks a downloaded file before it replaces the local
	// file (Pull), and the local file before it is uploaded (Push). Its error
	// text, one line without the path, becomes the cause of the error
	// returned (kind KindInvalid).
	Validate func(path string) error
}

func (o SyncOptions) statePath(localPath string) string {
	if o.StatePath != "" {
		return o.StatePath
	}
	return localPath + ".etag"
}

// SyncResult tells what Pull or Push did.
type SyncResult struct {
	URL string `json:"url"` // the remote, normalised, without credentials
	// Fetched: Pull downloaded the object and replaced the local file.
	Fetched bool `json:"fetched"`
	// Missing: the remote object does not exist (Pull only; not an error).
	Missing bool `json:"missing"`
	// ETag of the remote object ("" when missing or not reported).
	ETag string `json:"etag"`
	// Size of the local file in bytes (-1 when there is none).
	Size int64 `json:"size"`
}

// syncState is the content of the state file.
type syncState struct {
	URL  string `json:"url"`
	ETag string `json:"etag"`
}

// Check validates rawURL as an object URL (s3://bucket/key or
// file:///abs/path) without any configuration or network access, and returns
// it normalised. Errors are usage errors (ErrUsage).
func Check(rawURL string) (string, error) {
	loc, err := parseURL(rawURL, false)
	if err != nil {
		return "", err
	}
	return loc.String(), nil
}

// Pull brings localPath up to date with the remote object rawURL. When the
// state file says localPath was last synchronised with this URL at the ETag
// the remote still has, nothing is downloaded. Otherwise the object is
// downloaded to a temporary file beside localPath, validated, and renamed
// over localPath; the state file is then updated. On any error localPath and
// the state file are left as they were.
//
// A missing remote object is not an error: Missing is set, localPath is
// kept, and the state file is removed (it describes nothing that exists).
func Pull(ctx context.Context, rawURL, localPath string, opts SyncOptions) (SyncResult, error) {
	c, err := Open(rawURL, opts.Options)
	if err != nil {
		return SyncResult{}, err
	}
	res := SyncResult{URL: c.String(), Size: -1}
	statePath := opts.statePath(localPath)
	localFI, err := os.Stat(localPath)
	haveLocal := err == nil && localFI.Mode().IsRegular()
	if err == nil && !haveLocal {
		return res, newError(res.URL, KindLocal, "cannot replace "+localPath+": not a regular file")
	}
	cached := ""
	if st, ok := readState(statePath); ok && st.URL == res.URL && haveLocal {
		cached = st.ETag
	}

	// The download goes to a staging file so that it can be validated
	// before it replaces localPath. Client.Fetch skips the download only
	// when the file it is given exists, so the staging file starts as an
	// empty placeholder, which a "not modified" answer leaves untouched.
	dir := filepath.Dir(localPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, newError(res.URL, KindLocal, "cannot create "+dir+": "+fsCause(err))
	}
	staging, err := os.CreateTemp(dir, "."+filepath.Base(localPath)+".*.pull")
	if err != nil {
		return res, newError(res.URL, KindLocal, "cannot write in "+dir+": "+fsCause(err))
	}
	stagingPath := staging.Name()
	staging.Close()
	defer func() {
		os.Remove(stagingPath)
		removeSidecars(stagingPath)
	}()

	fr, err := c.Fetch(ctx, stagingPath, cached)
	if errors.Is(err, ErrNotFound) {
		if rerr := os.Remove(statePath); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return res, newError(res.URL, KindLocal, "cannot remove "+statePath+": "+fsCause(rerr))
		}
		res.Missing = true
		if haveLocal {
			res.Size = localFI.Size()
		}
		return res, nil
	}
	if err != nil {
		return res, err
	}
	res.ETag = fr.ETag
	if !fr.Fetched {
		res.Size = localFI.Size()
		return res, nil
	}
	if opts.Validate != nil {
		verr := opts.Validate(stagingPath)
		removeSidecars(stagingPath)
		if verr != nil {
			return res, newError(res.URL, KindInvalid, verr.Error())
		}
	}
	// A write-ahead log left by the old file must never be applied to the
	// new one, so it goes before the rename.
	if err := removeSidecars(localPath); err != nil {
		return res, newError(res.URL, KindLocal, "cannot replace "+localPath+": "+fsCause(err))
	}
	if err := os.Rename(stagingPath, localPath); err != nil {
		return res, newError(res.URL, KindLocal, "cannot replace "+localPath+": "+fsCause(err))
	}
	syncDir(dir)
	res.Fetched = true
	res.Size = fr.Size
	if fi, err := os.Stat(localPath); err == nil {
		res.Size = fi.Size()
	}
	if err := writeState(statePath, syncState{URL: res.URL, ETag: res.ETag}); err != nil {
		return res, newError(res.URL, KindLocal, "cannot write "+statePath+": "+fsCause(err))
	}
	return res, nil
}

// Push uploads localPath to the remote object rawURL (after Validate, if
// set) and records the new ETag in the state file, so that the next Pull on
// this machine does not download what was just uploaded.
func Push(ctx context.Context, rawURL, localPath string, opts SyncOptions) (SyncResult, error) {
	c, err := Open(rawURL, opts.Options)
	if err != nil {
		return SyncResult{}, err
	}
	res := SyncResult{URL: c.String(), Size: -1}
	fi, err := os.Stat(localPath)
	if err != nil {
		return res, newError(res.URL, KindLocal, "cannot read "+localPath+": "+fsCause(err))
	}
	if opts.Validate != nil {
		if err := opts.Validate(localPath); err != nil {
			return res, newError(res.URL, KindInvalid, "not uploading "+localPath+": "+err.Error())
		}
		if fi, err = os.Stat(localPath); err != nil {
			return res, newError(res.URL, KindLocal, "cannot read "+localPath+": "+fsCause(err))
		}
	}
	etag, err := c.Upload(ctx, localPath)
	if err != nil {
		return res, err
	}
	res.ETag = etag
	res.Size = fi.Size()
	statePath := opts.statePath(localPath)
	if err := writeState(statePath, syncState{URL: res.URL, ETag: etag}); err != nil {
		return res, newError(res.URL, KindLocal, "uploaded, but cannot write "+statePath+": "+fsCause(err))
	}
	return res, nil
}

// readState reads the state file; ok is false when it is missing or
// unreadable (the next Pull then simply downloads).
func readState(p string) (syncState, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return syncState{}, false
	}
	var st syncState
	if json.Unmarshal(b, &st) != nil || st.URL == "" || normalizeETag(st.ETag) == "" {
		return syncState{}, false
	}
	st.ETag = normalizeETag(st.ETag)
	return st, true
}

// writeState replaces the state file atomically; an empty ETag (a store that
// reports none) removes it.
func writeState(p string, st syncState) error {
	if st.ETag == "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = writeAtomic(context.Background(), p, strings.NewReader(string(b)+"\n"), int64(len(b)+1), nil, nil)
	return err
}

// removeSidecars removes SQLite's companion files of the database at p.
func removeSidecars(p string) error {
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(p + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", filepath.Base(p+suffix), err)
		}
	}
	return nil
}
