package remote

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// Network limits. Each phase of an operation is bounded across all its
// retries: an endpoint that refuses connections fails in about a second, one
// that cannot be reached or does not answer fails within responseTimeout, and
// a transfer that stops moving for idleTimeout is abandoned; a slow but
// progressing transfer is never cut.
var (
	dialTimeout        = 4 * time.Second
	tlsTimeout         = 10 * time.Second
	responseTimeout    = 20 * time.Second // until the answer starts, retries included
	idleTimeout        = 60 * time.Second // between reads of a body
	credentialsTimeout = 15 * time.Second
	maxAttempts        = 3
	maxBackoff         = 2 * time.Second
)

// Operation names, for error classification.
const (
	opGet  = "get"
	opPut  = "put"
	opList = "list"
	opHead = "head"
)

// s3Client implements Client for s3:// URLs.
type s3Client struct {
	loc      location
	opts     Options
	cfg      aws.Config
	client   *s3.Client
	endpoint string // custom endpoint, sanitised, for messages ("" for AWS)
	red      *redactor
}

// envLookup resolves variables from Options.Env first, then from the Go
// process environment.
type envLookup map[string]string

func (e envLookup) get(key string) string {
	if v, ok := e[key]; ok {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(os.Getenv(key))
}

// first returns the first non-empty value among keys.
func (e envLookup) first(keys ...string) string {
	for _, k := range keys {
		if v := e.get(k); v != "" {
			return v
		}
	}
	return ""
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func newS3Client(loc location, opts Options) (*s3Client, error) {
	env := envLookup(opts.Env)
	c := &s3Client{loc: loc, opts: opts, red: &redactor{}}
	shown := c.String()

	keyID := env.first("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY")
	secret := env.first("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY")
	token := env.first("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
	if _, ok := opts.Env["AWS_ACCESS_KEY_ID"]; ok {
		// Keys from Python: a token left in the process environment
		// belongs to other keys.
		token = strings.TrimSpace(opts.Env["AWS_SESSION_TOKEN"])
		if token == "" {
			token = strings.TrimSpace(opts.Env["AWS_SECURITY_TOKEN"])
		}
	}
	c.red.add(keyID, secret, token)
	c.red.add(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	// Anything in Env that looks secret is redacted too, whatever its name.
	for k, v := range opts.Env {
		uk := strings.ToUpper(k)
		if strings.Contains(uk, "SECRET") || strings.Contains(uk, "TOKEN") || strings.Contains(uk, "PASSWORD") || strings.Contains(uk, "KEY_ID") {
			c.red.add(v)
		}
	}

	var caPEM []byte
	if f := env.get("AWS_CA_BUNDLE"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, newError(shown, KindConfig, "cannot read AWS_CA_BUNDLE: "+fsCause(err))
		}
		caPEM = pem
	}
	httpClient, err := sharedHTTPClient(caPEM)
	if err != nil {
		return nil, newError(shown, KindConfig, err.Error())
	}

	lo := []func(*config.LoadOptions) error{
		config.WithLogger(logging.Nop{}),
		config.WithClientLogMode(0),
		config.WithLogConfigurationWarnings(false),
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
				o.RateLimiter = ratelimit.None
			})
		}),
		// Newer SDKs send CRC32 checksums (aws-chunked trailers over
		// HTTPS) by default, which several S3-compatible stores reject.
		// Uploads carry Content-MD5 instead, which every store verifies.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	configFile := env.get("AWS_CONFIG_FILE")
	if configFile != "" {
		lo = append(lo, config.WithSharedConfigFiles([]string{configFile}))
	}
	credentialsFile := env.get("AWS_SHARED_CREDENTIALS_FILE")
	if credentialsFile != "" {
		lo = append(lo, config.WithSharedCredentialsFiles([]string{credentialsFile}))
	}
	profile := env.first("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
	if profile != "" {
		lo = append(lo, config.WithSharedConfigProfile(profile))
	}
	// The region is resolved here rather than by the SDK so that a variable
	// Python has set to empty does not fall back to the process environment.
	region := env.first("AWS_REGION", "AWS_DEFAULT_REGION")
	if region == "" {
		region = profileRegion(profile, configFile, credentialsFile)
	}
	if region == "" {
		region = defaultRegion
	}
	lo = append(lo, config.WithRegion(region))
	if caPEM != nil {
		// For the SDK's own HTTP calls (credentials from instance metadata,
		// STS, SSO); the S3 calls use httpClient as it is (below).
		lo = append(lo, config.WithCustomCABundle(bytes.NewReader(caPEM)))
	}
	switch {
	case keyID != "" && secret != "":
		lo = append(lo, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(keyID, secret, token)))
	case keyID != "":
		return nil, newError(shown, KindConfig, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
	case secret != "":
		return nil, newError(shown, KindConfig, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
	}
	if isTrue(env.get("AWS_EC2_METADATA_DISABLED")) {
		lo = append(lo, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}

	var endpoint string
	if !isTrue(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
		endpoint = env.first("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, newError(shown, KindConfig, fmt.Sprintf("invalid endpoint URL %s (expected http://host:port or https://host)", safeURL(endpoint)))
		}
		if u.User != nil {
			pw, _ := u.User.Password()
			c.red.add(u.User.Username(), pw)
		}
		c.endpoint = strings.TrimSuffix(safeURL(endpoint), "/")
	}

	cfg, err := config.LoadDefaultConfig(context.Background(), lo...)
	if err != nil {
		return nil, newError(shown, KindConfig, c.configCause(err, profile))
	}
	c.cfg = cfg
	c.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if o.BaseEndpoint != nil {
			// Custom endpoints (from the environment or a profile's
			// endpoint_url) are S3-compatible stores: path-style.
			o.UsePathStyle = true
			if c.endpoint == "" {
				c.endpoint = strings.TrimSuffix(safeURL(*o.BaseEndpoint), "/")
			}
		}
		// The shared client itself: the configuration holds a copy of it
		// whenever the SDK found a CA bundle (ours, or AWS_CA_BUNDLE in the
		// process environment), and each copy has its own transport.
		o.HTTPClient = httpClient
		o.Logger = logging.Nop{}
		o.ClientLogMode = 0
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return c, nil
}

// HTTP clients, one per process and configuration. A client per call
// would build a transport per call: its idle keep-alive connections (and
// their goroutines) would outlive the call until the server dropped them,
// and no connection would be reused between the calls of one run. The
// shared transport reuses them and closes those idle for 90 s.
var httpClients = struct {
	sync.Mutex
	m map[httpClientKey]*awshttp.BuildableClient
}{m: map[httpClientKey]*awshttp.BuildableClient{}}

// httpClientKey is what a client is built from.
type httpClientKey struct {
	ca                         [sha256.Size]byte // AWS_CA_BUNDLE's content (zero: none)
	dial, handshake, firstByte time.Duration
}

// sharedHTTPClient returns the process's client for this CA bundle (nil:
// the system's roots) and the current network limits.
func sharedHTTPClient(caPEM []byte) (*awshttp.BuildableClient, error) {
	key := httpClientKey{dial: dialTimeout, handshake: tlsTimeout, firstByte: responseTimeout}
	if caPEM != nil {
		key.ca = sha256.Sum256(caPEM)
	}
	httpClients.Lock()
	defer httpClients.Unlock()
	if c, ok := httpClients.m[key]; ok {
		return c, nil
	}
	var roots *x509.CertPool
	if caPEM != nil {
		// Like the SDK's own AWS_CA_BUNDLE: the bundle replaces the
		// system's roots.
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("AWS_CA_BUNDLE holds no PEM certificate")
		}
	}
	c := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = key.dial
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = key.handshake
			tr.ResponseHeaderTimeout = key.firstByte
			if roots != nil {
				if tr.TLSClientConfig == nil {
					tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
				}
				tr.TLSClientConfig.RootCAs = roots
			}
		})
	httpClients.m[key] = c
	return c, nil
}

// defaultRegion is used when neither the environment nor the profile names
// one (custom endpoints usually ignore it; AWS redirects are reported).
const defaultRegion = "us-east-1"

// profileRegion reads the region of profile (or "default") from the shared
// files; "" when there is none. Errors are left to LoadDefaultConfig.
func profileRegion(profile, configFile, credentialsFile string) string {
	if profile == "" {
		profile = "default"
	}
	sc, err := config.LoadSharedConfigProfile(context.Background(), profile, func(o *config.LoadSharedConfigOptions) {
		if configFile != "" {
			o.ConfigFiles = []string{configFile}
		}
		if credentialsFile != "" {
			o.CredentialsFiles = []string{credentialsFile}
		}
		o.Logger = logging.Nop{}
	})
	if err != nil {
		return ""
	}
	return sc.Region
}

func (c *s3Client) configCause(err error, profile string) string {
	var pne config.SharedConfigProfileNotExistError
	if errors.As(err, &pne) {
		name := pne.Profile
		if name == "" {
			name = profile
		}
		return fmt.Sprintf("AWS profile %q not found in the shared config or credentials files", name)
	}
	var le config.SharedConfigLoadError
	if errors.As(err, &le) {
		return "cannot read the AWS shared config files: " + c.short(le.Err)
	}
	return "invalid AWS configuration: " + c.short(err)
}

func (c *s3Client) String() string { return c.loc.String() }

// ensureCredentials resolves the credentials once (they are cached in
// cfg.Credentials for the operations), so that a missing configuration is
// reported as such rather than as a signing failure.
func (c *s3Client) ensureCredentials(ctx context.Context) error {
	if c.cfg.Credentials == nil {
		return newError(c.String(), KindCredentials, noCredsCause)
	}
	cctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	creds, err := c.cfg.Credentials.Retrieve(cctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctxError(c.String(), ctx.Err())
		}
		// Falling through to the instance metadata service means nothing
		// was configured: the SDK's chain of reasons adds nothing then.
		if strings.Contains(err.Error(), "EC2 IMDS") {
			return newError(c.String(), KindCredentials, noCredsCause)
		}
		return newError(c.String(), KindCredentials, noCredsCause+": "+c.short(err))
	}
	c.red.add(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	return nil
}

const noCredsCause = "no usable AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"

func (c *s3Client) Fetch(ctx context.Context, localPath, etag string) (FetchResult, error) {
	if err := c.ensureCredentials(ctx); err != nil {
		return FetchResult{}, err
	}
	etag = normalizeETag(etag)
	localSize := int64(-1)
	if etag != "" {
		if fi, err := os.Stat(localPath); err == nil && fi.Mode().IsRegular() {
			localSize = fi.Size()
		} else {
			etag = "" // nothing local to keep: download unconditionally
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	in := &s3.GetObjectInput{Bucket: aws.String(c.loc.bucket), Key: aws.String(c.loc.key)}
	if etag != "" {
		in.IfNoneMatch = aws.String(`"` + etag + `"`)
	}
	wd := newWatchdog(responseTimeout, errNoAnswer, cancel)
	defer wd.stop()
	out, err := c.client.GetObject(ctx, in)
	if err != nil {
		if etag != "" && isNotModified(err) {
			return FetchResult{Fetched: false, ETag: etag, Size: localSize}, nil
		}
		return FetchResult{}, c.classify(ctx, err, opGet)
	}
	defer out.Body.Close()
	remoteETag := normalizeETag(aws.ToString(out.ETag))
	if etag != "" && remoteETag == etag {
		// The store ignored If-None-Match but the object is unchanged.
		return FetchResult{Fetched: false, ETag: etag, Size: localSize}, nil
	}
	total := int64(-1)
	if out.ContentLength != nil {
		total = *out.ContentLength
	}
	wd.arm(idleTimeout, errStalled)
	n, err := writeAtomic(ctx, localPath, &idleReader{r: out.Body, w: wd}, total, nil, c.opts.Progress)
	if err != nil {
		var re *readError
		switch {
		case errors.As(err, &re) || isCtxErr(err):
			return FetchResult{}, c.classify(ctx, err, opGet)
		case errors.Is(err, errIncomplete):
			return FetchResult{}, newError(c.String(), KindUnreachable, fmt.Sprintf("download incomplete (%d of %d bytes)", n, total))
		default:
			return FetchResult{}, newError(c.String(), KindLocal, "cannot write "+localPath+": "+fsCause(err))
		}
	}
	if remoteETag == "" {
		remoteETag = c.headETag(ctx)
	}
	return FetchResult{Fetched: true, ETag: remoteETag, Size: n}, nil
}

func (c *s3Client) Upload(ctx context.Context, localPath string) (string, error) {
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
	size := fi.Size()
	const maxSingle = 5 << 30
	if size > maxSingle {
		return "", newError(c.String(), KindInvalid, fmt.Sprintf("%s is too large for a single upload (%d bytes, limit 5 GiB)", localPath, size))
	}
	if err := c.ensureCredentials(ctx); err != nil {
		return "", err
	}
	sum := md5.New()
	if _, err := copyCtx(ctx, sum, f, -1, nil); err != nil {
		if isCtxErr(err) {
			return "", ctxError(c.String(), err)
		}
		return "", newError(c.String(), KindLocal, "cannot read "+localPath+": "+fsCause(err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", newError(c.String(), KindLocal, "cannot read "+localPath+": "+fsCause(err))
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(responseTimeout, errNoAnswer, cancel)
	defer wd.stop()
	body := &progressReadSeeker{r: f, total: size, progress: c.opts.Progress, watchdog: wd}
	if c.opts.Progress != nil {
		c.opts.Progress(0, size)
	}
	out, err := c.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(c.loc.bucket),
		Key:           aws.String(c.loc.key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum.Sum(nil))),
		ContentType:   aws.String("application/vnd.sqlite3"),
	})
	if err != nil {
		return "", c.classify(ctx, err, opPut)
	}
	etag := normalizeETag(aws.ToString(out.ETag))
	if etag == "" {
		etag = c.headETag(ctx)
	}
	return etag, nil
}

// headETag asks for the ETag when a response lacked it ("" on failure: the
// next Fetch then simply downloads again).
func (c *s3Client) headETag(ctx context.Context) string {
	ctx, cancel := context.WithTimeoutCause(ctx, responseTimeout, errNoAnswer)
	defer cancel()
	out, err := c.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.loc.bucket), Key: aws.String(c.loc.key)})
	if err != nil {
		return ""
	}
	return normalizeETag(aws.ToString(out.ETag))
}

// list returns the s3:// URLs of the *.db objects directly under the prefix.
func (c *s3Client) list(ctx context.Context) ([]string, error) {
	if err := c.ensureCredentials(ctx); err != nil {
		return nil, err
	}
	p := s3.NewListObjectsV2Paginator(c.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(c.loc.bucket),
		Prefix:    aws.String(c.loc.key),
		Delimiter: aws.String("/"),
	})
	var urls []string
	for p.HasMorePages() {
		pctx, cancel := context.WithTimeoutCause(ctx, responseTimeout, errNoAnswer)
		page, err := p.NextPage(pctx)
		if err != nil {
			err = c.classify(pctx, err, opList)
			cancel()
			return nil, err
		}
		cancel()
		for _, obj := range page.Contents {
			k := aws.ToString(obj.Key)
			if strings.HasSuffix(k, ".db") && strings.HasPrefix(k, c.loc.key) && !strings.Contains(k[len(c.loc.key):], "/") {
				urls = append(urls, "s3://"+c.loc.bucket+"/"+k)
			}
		}
	}
	return urls, nil
}

// isNotModified reports whether err is the 304 answer to a conditional GET.
func isNotModified(err error) bool {
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) && se.HTTPStatusCode() == http.StatusNotModified {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NotModified"
}

// classify turns an SDK or network error into a one-line *Error.
func (c *s3Client) classify(ctx context.Context, err error, op string) error {
	u := c.String()
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStalled):
		return newError(u, KindUnreachable, fmt.Sprintf("transfer stalled (no data for %s)", idleTimeout))
	case errors.Is(cause, errNoAnswer):
		return newError(u, KindUnreachable, fmt.Sprintf("cannot reach endpoint %s: no answer within %s", c.endpointFor(err), responseTimeout))
	}
	if ctx.Err() != nil {
		return ctxError(u, ctx.Err())
	}

	code, msg := "", ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	status := 0
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		status = se.HTTPStatusCode()
	}

	switch code {
	case "NoSuchKey":
		return newError(u, KindNotFound, "object does not exist")
	case "NoSuchBucket":
		return newError(u, KindNoBucket, "bucket does not exist")
	case "InvalidAccessKeyId":
		return newError(u, KindAccessDenied, "access denied: the access key ID is not valid (check credentials)")
	case "SignatureDoesNotMatch":
		return newError(u, KindAccessDenied, "access denied: signature does not match (check the secret access key)")
	case "ExpiredToken", "TokenRefreshRequired", "InvalidToken", "ExpiredTokenException":
		return newError(u, KindAccessDenied, "access denied: the session token is expired or invalid (check credentials)")
	case "AccessDenied", "Forbidden", "AllAccessDisabled", "AccountProblem", "InvalidSecurity", "RequestTimeTooSkewed":
		if code == "RequestTimeTooSkewed" {
			return newError(u, KindAccessDenied, "access denied: the system clock differs too much from the server's")
		}
		return newError(u, KindAccessDenied, c.deniedCause(op))
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		return newError(u, KindConfig, "the bucket is in another region (set AWS_REGION to the bucket's region)")
	case "InvalidBucketName":
		return newError(u, KindUsage, "invalid bucket name")
	case "InvalidObjectState":
		return newError(u, KindInvalid, "not a valid object (archived; restore it first)")
	case "EntityTooLarge":
		return newError(u, KindInvalid, "the file is too large for the store")
	case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch":
		return newError(u, KindOther, "upload corrupted in transit (checksum mismatch); try again")
	}
	switch {
	case status == http.StatusNotFound:
		if op == opList || op == opPut {
			return newError(u, KindNoBucket, "bucket does not exist")
		}
		return newError(u, KindNotFound, "object does not exist")
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return newError(u, KindAccessDenied, c.deniedCause(op))
	case status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect:
		return newError(u, KindConfig, "the bucket is in another region (set AWS_REGION to the bucket's region)")
	case status >= 500:
		return newError(u, KindOther, fmt.Sprintf("server error (HTTP %d %s)", status, c.short(errors.New(code+" "+msg))))
	case status != 0:
		detail := strings.TrimSpace(code + ": " + msg)
		if code == "" {
			detail = http.StatusText(status)
		}
		return newError(u, KindOther, fmt.Sprintf("request failed (HTTP %d): %s", status, c.short(errors.New(detail))))
	}

	if cause, ok := c.networkCause(err); ok {
		return newError(u, KindUnreachable, cause)
	}
	if isCtxErr(err) {
		return ctxError(u, err)
	}
	if strings.Contains(err.Error(), "get identity") || strings.Contains(err.Error(), "retrieve credentials") {
		return newError(u, KindCredentials, noCredsCause)
	}
	return newError(u, KindOther, c.short(err))
}

func (c *s3Client) deniedCause(op string) string {
	if op == opGet || op == opHead {
		return "access denied (check credentials; without permission to list the bucket, S3 also reports a missing object this way)"
	}
	return "access denied (check credentials)"
}

// networkCause describes a transport failure: "cannot reach endpoint X: ...".
func (c *s3Client) networkCause(err error) (string, bool) {
	var what string
	var dnsErr *net.DNSError
	var ne net.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		what = "host not found"
	case errors.Is(err, syscall.ECONNREFUSED):
		what = "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		what = "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		what = "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		what = "network unreachable"
	case errors.As(err, &unknownCA), errors.As(err, &certErr):
		what = "TLS certificate not trusted (set AWS_CA_BUNDLE?)"
	case errors.As(err, &hostErr):
		what = "TLS certificate does not match the host"
	case errors.As(err, &recErr):
		what = "TLS handshake failed (is the endpoint plain http?)"
	case errors.As(err, &ne) && ne.Timeout():
		what = "timed out"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		what = "connection closed unexpectedly"
	case errors.As(err, &opErr):
		what = "network error: " + c.short(opErr.Err)
	default:
		return "", false
	}
	return "cannot reach endpoint " + c.endpointFor(err) + ": " + what, true
}

// endpointFor names the endpoint for a message: the custom endpoint, else the
// host the failed request went to.
func (c *s3Client) endpointFor(err error) string {
	if c.endpoint != "" {
		return c.endpoint
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if pu, perr := url.Parse(urlErr.URL); perr == nil && pu.Host != "" {
			return pu.Scheme + "://" + pu.Host
		}
	}
	return "for s3://" + c.loc.bucket
}

// short renders an underlying error as a redacted single line of bounded
// length.
func (c *s3Client) short(err error) string {
	s := oneLine(c.red.redact(err.Error()))
	const max = 300
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
