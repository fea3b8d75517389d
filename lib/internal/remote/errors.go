package remote

import (
	"errors"
	"strings"
)

// Kind classifies an error returned by this package.
type Kind int

// Error kinds. The zero value is KindOther.
const (
	KindOther        Kind = iota // anything not classified below
	KindUsage                    // malformed URL or arguments
	KindConfig                   // unusable AWS configuration (profile, CA bundle)
	KindNotFound                 // the object (or directory) does not exist
	KindNoBucket                 // the bucket does not exist
	KindAccessDenied             // 403, invalid key, bad signature, expired token
	KindCredentials              // no credentials could be found
	KindUnreachable              // network: refused, DNS, timeout, TLS
	KindInvalid                  // exists but is not a usable object
	KindLocal                    // local file system error
	KindCanceled                 // the context was cancelled
)

// Sentinel errors, one per Kind, for errors.Is.
var (
	ErrNotFound     = errors.New("remote object does not exist")
	ErrUsage        = errors.New("invalid remote URL")
	ErrConfig       = errors.New("invalid AWS configuration")
	ErrNoBucket     = errors.New("bucket does not exist")
	ErrAccessDenied = errors.New("access denied")
	ErrCredentials  = errors.New("no credentials")
	ErrUnreachable  = errors.New("cannot reach endpoint")
	ErrInvalid      = errors.New("not a valid object")
	ErrLocal        = errors.New("local file error")
	ErrCanceled     = errors.New("cancelled")
	ErrOther        = errors.New("remote error")
)

var kindErrs = map[Kind]error{
	KindOther:        ErrOther,
	KindUsage:        ErrUsage,
	KindConfig:       ErrConfig,
	KindNotFound:     ErrNotFound,
	KindNoBucket:     ErrNoBucket,
	KindAccessDenied: ErrAccessDenied,
	KindCredentials:  ErrCredentials,
	KindUnreachable:  ErrUnreachable,
	KindInvalid:      ErrInvalid,
	KindLocal:        ErrLocal,
	KindCanceled:     ErrCanceled,
}

var kindNames = map[Kind]string{
	KindOther:        "other",
	KindUsage:        "usage",
	KindConfig:       "config",
	KindNotFound:     "not_found",
	KindNoBucket:     "no_bucket",
	KindAccessDenied: "access_denied",
	KindCredentials:  "credentials",
	KindUnreachable:  "unreachable",
	KindInvalid:      "invalid",
	KindLocal:        "local",
	KindCanceled:     "cancelled",
}

// String returns a short stable name ("not_found", "access_denied", ...),
// suitable for passing across the ABI.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "other"
}

// Error is the error type returned by this package. Its message is one line,
// "<url>: <cause>", free of credentials. It unwraps to the sentinel of its
// Kind only (never to the underlying SDK error, whose text is not sanitised).
type Error struct {
	URL   string // the URL, without credentials
	Kind  Kind
	Cause string // plain words, one line
}

func (e *Error) Error() string { return e.URL + ": " + e.Cause }

// Unwrap returns the sentinel error of e.Kind.
func (e *Error) Unwrap() error { return kindErrs[e.Kind] }

// KindOf returns the Kind of err (KindOther for errors not from this package,
// KindCanceled for context errors).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindOther
}

func newError(url string, kind Kind, cause string) *Error {
	return &Error{URL: url, Kind: kind, Cause: oneLine(cause)}
}

func usageError(url, cause string) *Error { return newError(url, KindUsage, cause) }

// oneLine collapses whitespace runs (newlines included) into single spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// redactor removes secret values from text.
type redactor struct{ secrets []string }

func (r *redactor) add(vals ...string) {
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if len(v) < 4 { // too short to be a credential; replacing would mangle text
			continue
		}
		dup := false
		for _, s := range r.secrets {
			if s == v {
				dup = true
				break
			}
		}
		if !dup {
			r.secrets = append(r.secrets, v)
		}
	}
}

func (r *redactor) redact(s string) string {
	if r == nil {
		return s
	}
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}
