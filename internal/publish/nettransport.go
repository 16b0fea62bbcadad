package publish

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Network reliability of registry targets.
//
// go-containerregistry retries a whole blob upload or manifest write when
// it fails with a temporary error (its writer), and retries the round trip
// of a read (its retry transport). Below those, reliableTransport adds what
// they lack:
//
//   - bounded waits: connecting, the TLS handshake, the response headers,
//     and every byte of a request or response body must make progress
//     within the timeout, or the request is abandoned as stalled;
//   - a read whose body breaks off (a reset, a truncated body, a stall) is
//     resumed with a Range request, or read again from the start, without
//     the caller noticing: go-containerregistry retries only the round
//     trip, not a failure while its caller reads the body;
//   - 429 and 503 are retried after the Retry-After the registry asked for
//     (go-containerregistry waits its own backoff); other 5xx and transport
//     errors are retried for idempotent requests (GET, HEAD, a manifest
//     PUT) with exponential backoff and jitter, a bounded number of times;
//   - a request it gave up on fails with a retriesError, which
//     go-containerregistry's retries are told not to retry again, so that
//     retries do not multiply.

// DefaultTimeout is how long a registry may make no progress (connecting,
// answering a request, sending or accepting a byte) before the request is
// abandoned, and retried when it can be.
const DefaultTimeout = 30 * time.Second

// netConfig is how registry requests are bounded and retried.
type netConfig struct {
	timeout  time.Duration // the longest wait for any progress
	attempts int           // attempts of one request, the first included
	backoff  time.Duration // the first wait between attempts; doubles
	maxWait  time.Duration // the longest wait between attempts, Retry-After included
}

func newNetConfig(timeout time.Duration) netConfig {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return netConfig{
		timeout:  timeout,
		attempts: 5,
		// A registry that answers within a short timeout is retried as
		// briskly: the waits scale with it, up to 1 s, then 2, 4, 8 s.
		backoff: min(time.Second, max(timeout/4, 50*time.Millisecond)),
		maxWait: max(60*time.Second, 2*timeout),
	}
}

// opTimeout caps an operation made of a few small requests (a lookup, a
// stamp, a tag, a delete): every attempt of each may use the timeout.
func (c netConfig) opTimeout() time.Duration { return 10 * c.timeout }

// newBaseTransport returns go-containerregistry's DefaultTransport with
// every wait bounded by c.timeout, and TLS unverified when insecure.
func newBaseTransport(c netConfig, insecure bool) *http.Transport {
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = c.timeout
	tr.ResponseHeaderTimeout = c.timeout
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asked for it
	}
	return tr
}

// retryRemoteOptions makes go-containerregistry's own retries work with
// reliableTransport: the same backoff, no retry of what it gave up on, and
// the status codes left to it (it honours Retry-After).
func retryRemoteOptions(c netConfig) []remote.Option {
	return []remote.Option{
		remote.WithRetryBackoff(remote.Backoff{Duration: c.backoff, Factor: 2, Jitter: 0.5, Steps: c.attempts}),
		remote.WithRetryPredicate(retryPredicate),
		remote.WithRetryStatusCodes(),
	}
}

// retryPredicate is go-containerregistry's retry predicate: temporary
// errors, except those reliableTransport already retried.
func retryPredicate(err error) bool {
	var re *retriesError
	if err == nil || errors.As(err, &re) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.Temporary()
	}
	return transient(err)
}

// reliableTransport bounds and retries the requests of a registry target.
type reliableTransport struct {
	inner http.RoundTripper
	cfg   netConfig
}

func newReliableTransport(inner http.RoundTripper, c netConfig) *reliableTransport {
	return &reliableTransport{inner: inner, cfg: c}
}

// idempotent reports whether req may be sent again after a failure whose
// outcome is unknown: reads, and the PUT of a manifest (the same bytes to
// the same name). A blob upload's PATCH and PUT are not: the upload
// session moves on; go-containerregistry retries the whole upload.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodDelete:
		return true
	case http.MethodPut:
		return strings.Contains(req.URL.Path, "/manifests/")
	}
	return false
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func (t *reliableTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	canReplay := replayable(req)
	idem := canReplay && idempotent(req)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		resp, err := t.once(req, attempt)
		if err == nil && !retryableStatus(resp.StatusCode) {
			if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK || req.Header.Get("Range") != "" {
				return resp, nil
			}
			if contentIdent(req, resp) != "" {
				resp.Body = newResumingBody(t, req, resp)
				return resp, nil
			}
			// Nothing names the content (a tag list, a manifest by tag
			// without a digest header): it cannot be resumed, so it is
			// read here, whole, and read again when it breaks off.
			if err = bufferBody(resp); err == nil {
				return resp, nil
			}
			resp = nil
		}
		if ctx.Err() != nil {
			if resp != nil {
				resp.Body.Close()
			}
			return nil, t.interrupted(ctx, err, attempt, start)
		}
		wait := t.backoff(attempt)
		var retry bool
		if err != nil {
			retry = idem && transient(err)
			// Nothing listening: a registry restarting, or the wrong
			// address; not worth the whole backoff.
			if errors.Is(err, syscall.ECONNREFUSED) && attempt >= 3 {
				retry = false
				if attempt > 1 {
					return nil, &retriesError{Attempts: attempt, Elapsed: time.Since(start), Err: err}
				}
			}
		} else {
			// The registry answered: it refused the request, and a
			// request it refused can be sent again if its body can.
			retry = idem || canReplay && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable)
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				if ra > t.cfg.maxWait {
					retry = false
				}
				wait = ra
			}
			if !retry {
				return resp, nil // go-containerregistry's writer retries it
			}
			if attempt >= t.cfg.attempts {
				err = transport.CheckError(resp)
				resp.Body.Close()
				return nil, &retriesError{Attempts: attempt, Elapsed: time.Since(start), Err: err}
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err != nil && !retry {
			return nil, err // go-containerregistry's writer retries it
		}
		if err != nil && attempt >= t.cfg.attempts {
			return nil, &retriesError{Attempts: attempt, Elapsed: time.Since(start), Err: err}
		}
		if sleep(ctx, wait) != nil {
			return nil, t.interrupted(ctx, err, attempt, start)
		}
	}
}

// interrupted is the error of a request whose context ended while it was
// retried: the last failure, when there was one, says more than the
// context's error.
func (t *reliableTransport) interrupted(ctx context.Context, last error, attempt int, start time.Time) error {
	if last == nil {
		return ctx.Err()
	}
	return &retriesError{Attempts: attempt, Elapsed: time.Since(start), Err: fmt.Errorf("%w; then %w", last, ctx.Err())}
}

// once sends one attempt of req, its request body and response body
// watched for stalls.
func (t *reliableTransport) once(req *http.Request, attempt int) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	r := req.Clone(ctx)
	if attempt > 1 && req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			cancel(nil)
			return nil, err
		}
		r.Body = b
	}
	stall := func() {
		cancel(&stallError{Method: req.Method, Host: req.URL.Host, Path: req.URL.Path, After: t.cfg.timeout})
	}
	send := &watchdog{d: t.cfg.timeout, stall: stall}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &sendBody{ReadCloser: r.Body, wd: send}
		send.arm()
	}
	resp, err := t.inner.RoundTrip(r)
	// The transport may still be sending the body of a request the
	// registry answered early: that is no longer watched.
	send.disable()
	if err != nil {
		cause := context.Cause(ctx)
		cancel(nil)
		var se *stallError
		if errors.As(cause, &se) {
			return nil, se
		}
		return nil, err
	}
	resp.Body = &recvBody{ReadCloser: resp.Body, wd: &watchdog{d: t.cfg.timeout, stall: stall}, ctx: ctx, cancel: cancel}
	return resp, nil
}

// backoff returns the wait before attempt+1: doubling from cfg.backoff,
// with jitter (between half and all of it), capped at 8 times the first.
func (t *reliableTransport) backoff(attempt int) time.Duration {
	d := t.cfg.backoff << min(attempt-1, 3)
	return d/2 + rand.N(d/2+1)
}

// maxBuffered is the largest body bufferBody reads.
const maxBuffered = 4 << 20

// bufferBody reads the body of resp into memory.
func bufferBody(resp *http.Response) error {
	if resp.ContentLength > maxBuffered {
		return nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBuffered+1))
	if err == nil && resp.ContentLength >= 0 && int64(len(data)) != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if len(data) > maxBuffered {
		return fmt.Errorf("%s %s: the answer is larger than %d bytes and names no content to resume", resp.Request.Method, resp.Request.URL.Path, maxBuffered)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return nil
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 1<<20)) * time.Second, true
	}
	if at, err := http.ParseTime(h); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transient reports whether err, from sending a request or reading its
// answer, may go away when the request is sent again: resets, broken or
// garbled answers, timeouts, stalls, refused connections. Certificates
// that do not verify, plain HTTP answering HTTPS, unknown hosts and
// cancellation are not.
func transient(err error) bool {
	var se *stallError
	if errors.As(err, &se) {
		return true
	}
	if err == nil || isContextErr(err) {
		return false
	}
	var (
		cve *tls.CertificateVerificationError
		uae x509.UnknownAuthorityError
		he  x509.HostnameError
		cie x509.CertificateInvalidError
		rhe tls.RecordHeaderError
		dns *net.DNSError
	)
	switch {
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &he), errors.As(err, &cie), errors.As(err, &rhe):
		return false
	case errors.As(err, &dns) && dns.IsNotFound:
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.Temporary()
	}
	return true
}

// isContextErr reports whether err is, or wraps, the error of a context
// that was cancelled or ran out of time itself (not a timeout of the
// network, which also says it is a DeadlineExceeded).
func isContextErr(err error) bool {
	for err != nil {
		if err == context.Canceled || err == context.DeadlineExceeded {
			return true
		}
		err = errors.Unwrap(err)
	}
	return false
}

// A stallError is a request the registry made no progress on for After.
type stallError struct {
	Method, Host, Path string
	After              time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%s %s%s: the registry made no progress for %s (stalled)", e.Method, e.Host, e.Path, e.After)
}

func (e *stallError) Timeout() bool { return true }

// A retriesError is a request reliableTransport retried and gave up on.
type retriesError struct {
	Attempts int
	Elapsed  time.Duration
	Err      error
}

func (e *retriesError) Error() string {
	if e.Attempts == 1 {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v (gave up after %d attempts in %s)", e.Err, e.Attempts, e.Elapsed.Round(time.Millisecond))
}

func (e *retriesError) Unwrap() error { return e.Err }

// watchdog calls stall when it stays armed for d.
type watchdog struct {
	d     time.Duration
	stall func()
	mu    sync.Mutex
	t     *time.Timer
	off   bool
}

func (w *watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.off {
		return
	}
	if w.t == nil {
		w.t = time.AfterFunc(w.d, w.stall)
		return
	}
	w.t.Reset(w.d)
}

// disable stops w for good.
func (w *watchdog) disable() {
	w.stop()
	w.mu.Lock()
	w.off = true
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t != nil {
		w.t.Stop()
	}
}

// sendBody is a request body: the watchdog runs while the transport
// sends what one Read returned, not while the body's source computes it.
type sendBody struct {
	io.ReadCloser
	wd *watchdog
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.wd.stop()
	n, err := b.ReadCloser.Read(p)
	if err == nil {
		b.wd.arm()
	}
	return n, err
}

// recvBody is a response body: the watchdog runs while a Read waits for
// the registry's bytes; an abandoned read fails with the stallError.
type recvBody struct {
	io.ReadCloser
	wd     *watchdog
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func (b *recvBody) Read(p []byte) (int, error) {
	b.wd.arm()
	n, err := b.ReadCloser.Read(p)
	b.wd.stop()
	if err != nil && err != io.EOF {
		var se *stallError
		if errors.As(context.Cause(b.ctx), &se) {
			err = se
		}
	}
	return n, err
}

func (b *recvBody) Close() error {
	b.wd.stop()
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// resumingBody is the body of a GET answered 200: when it breaks off, it
// is asked for again, from where it broke (Range) or from the start, and
// reading goes on as long as the registry answers with the same content.
type resumingBody struct {
	t       *reliableTransport
	req     *http.Request
	cur     io.ReadCloser
	n       int64  // bytes delivered
	length  int64  // Content-Length, or -1
	ident   string // what names the content: Docker-Content-Digest or ETag
	resumes int
}

func newResumingBody(t *reliableTransport, req *http.Request, resp *http.Response) *resumingBody {
	return &resumingBody{t: t, req: req, cur: resp.Body, length: resp.ContentLength, ident: contentIdent(req, resp)}
}

// contentIdent returns what names the content of resp: its digest header,
// its ETag, or for a request by digest the digest; "" when nothing does
// (a tag may move between two requests).
func contentIdent(req *http.Request, resp *http.Response) string {
	if i := strings.LastIndex(req.URL.Path, "/sha256:"); i >= 0 {
		return "path " + req.URL.Path[i+1:]
	}
	if d := resp.Header.Get("Docker-Content-Digest"); d != "" {
		return "digest " + d
	}
	if e := resp.Header.Get("ETag"); e != "" && !strings.HasPrefix(e, "W/") {
		return "etag " + e
	}
	return ""
}

func (b *resumingBody) Read(p []byte) (int, error) {
	n, err := b.cur.Read(p)
	b.n += int64(n)
	if err == nil || err == io.EOF && (b.length < 0 || b.n == b.length) {
		return n, err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if b.ident == "" || !transient(err) || b.resumes >= b.t.cfg.attempts-1 || b.req.Context().Err() != nil {
		return n, err
	}
	if rerr := b.resume(); rerr != nil {
		return n, fmt.Errorf("%w (reading again: %v)", err, rerr)
	}
	if n > 0 {
		return n, nil
	}
	return b.Read(p)
}

func (b *resumingBody) resume() error {
	b.cur.Close()
	b.resumes++
	if err := sleep(b.req.Context(), b.t.backoff(b.resumes)); err != nil {
		return err
	}
	r := b.req.Clone(b.req.Context())
	r.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.n))
	resp, err := b.t.RoundTrip(r)
	if err == nil && resp.StatusCode != http.StatusPartialContent && resp.StatusCode != http.StatusOK {
		// No ranges here (416, 400): read it all again.
		resp.Body.Close()
		r = b.req.Clone(b.req.Context())
		resp, err = b.t.RoundTrip(r)
	}
	if err != nil {
		return err
	}
	if id := contentIdent(r, resp); id != b.ident {
		resp.Body.Close()
		return fmt.Errorf("the registry answered with other content (%s, was %s)", id, b.ident)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-", b.n)) {
			resp.Body.Close()
			return fmt.Errorf("the registry answered range %q for bytes %d-", cr, b.n)
		}
	case http.StatusOK:
		if resp.ContentLength != b.length {
			resp.Body.Close()
			return fmt.Errorf("the registry answered %d bytes, was %d", resp.ContentLength, b.length)
		}
		if _, err := io.CopyN(io.Discard, resp.Body, b.n); err != nil {
			resp.Body.Close()
			return err
		}
	default:
		resp.Body.Close()
		return fmt.Errorf("the registry answered %s", resp.Status)
	}
	b.cur = resp.Body
	return nil
}

func (b *resumingBody) Close() error { return b.cur.Close() }
