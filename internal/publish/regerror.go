package publish

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// A RegistryError is a registry operation that failed: which registry,
// what cachecheck was doing there, why, and what to do. It wraps the
// error of go-containerregistry (a *transport.Error when the registry
// answered), which errors.As finds. Its text never holds a URL's query:
// an upload's _state token, a signed redirect.
type RegistryError struct {
	// Registry is the registry's host[:port].
	Registry string
	// Op says what was being done: "looking up tag T of REPO", "pushing
	// blob sha256:… to REPO", "writing tag T of REPO", …
	Op  string
	Err error
}

func (e *RegistryError) Error() string {
	msg := fmt.Sprintf("%s (registry %s): %s", e.Op, e.Registry, redactQueries(e.Err.Error()))
	if h := registryHint(e.Registry, e.Err); h != "" {
		msg += "\n\t" + h
	}
	return msg
}

func (e *RegistryError) Unwrap() error { return e.Err }

// registryErr wraps err, from operation op on a repository of repo's
// registry, in a RegistryError; it keeps a RegistryError as it is.
func registryErr(repo name.Repository, op string, err error) error {
	var re *RegistryError
	if err == nil || errors.As(err, &re) {
		return err
	}
	return &RegistryError{Registry: repo.RegistryStr(), Op: op, Err: err}
}

var (
	// A URL with a query, as net/url and net/http print them.
	urlQuery = regexp.MustCompile(`(?i)\b(https?://[^\s"'?#]*)\?[^\s"']*`)
	// An upload state token anywhere else.
	stateParam = regexp.MustCompile(`(?i)_state=[^\s&"']*`)
)

// redactQueries removes the query of every URL in s, and any _state
// parameter left.
func redactQueries(s string) string {
	s = urlQuery.ReplaceAllStringFunc(s, func(m string) string {
		u, q, _ := strings.Cut(m, "?")
		if strings.HasSuffix(q, ":") { // "PUT URL: status"
			u += ":"
		}
		return u
	})
	return stateParam.ReplaceAllString(s, "_state=REDACTED")
}

// registryHint says what to do about err from host; "" when nothing
// useful can be said.
func registryHint(host string, err error) string {
	var (
		terr *transport.Error
		cve  *tls.CertificateVerificationError
		uae  x509.UnknownAuthorityError
		he   x509.HostnameError
		cie  x509.CertificateInvalidError
		rhe  tls.RecordHeaderError
		dns  *net.DNSError
		se   *stallError
		ne   net.Error
	)
	switch {
	case errors.As(err, &terr) && terr.StatusCode == http.StatusUnauthorized:
		return fmt.Sprintf("the registry refused the credentials for %s: check 'docker login %s' (the Docker config in $DOCKER_CONFIG, default ~/.docker, and its credential helpers)", host, host)
	case errors.As(err, &terr) && terr.StatusCode == http.StatusForbidden:
		return fmt.Sprintf("the registry %s refused this: ask for push access to the repository, or check that 'docker login %s' uses the account that has it", host, host)
	case errors.As(err, &terr) && terr.StatusCode == http.StatusTooManyRequests:
		return "the registry is limiting the rate of requests: retry later"
	case errors.As(err, &terr) && terr.StatusCode >= 500:
		return "the registry is failing or unavailable: retry later"
	case errors.As(err, &cve), errors.As(err, &uae), errors.As(err, &he), errors.As(err, &cie):
		return fmt.Sprintf("the TLS certificate of %s does not verify: add its CA to the system's (or SSL_CERT_FILE / SSL_CERT_DIR), or, for a registry you trust on a private network, pass --insecure", host)
	case errors.As(err, &rhe):
		return fmt.Sprintf("%s answered HTTPS with plain HTTP: pass --insecure for a plain-HTTP registry", host)
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Sprintf("the host of %s does not resolve: check the registry's name", host)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing accepts connections at %s: check the host and port, and that the registry is running; retry later", host)
	case errors.As(err, &se), errors.As(err, &ne) && ne.Timeout(),
		strings.Contains(err.Error(), "timeout"), strings.Contains(err.Error(), "(stalled)"),
		strings.Contains(err.Error(), "deadline exceeded"), strings.Contains(err.Error(), "times --timeout"):
		return "the registry did not answer in time: retry later, or allow it more time with --timeout (CACHECHECK_TIMEOUT)"
	case transient(err) && !isContextErr(err):
		return "the connection to the registry broke: retry later"
	}
	return ""
}

// tagOp and blobOp name operations in RegistryError.Op.
func tagOp(verb string, ref name.Tag) string {
	return fmt.Sprintf("%s tag %s of %s", verb, ref.TagStr(), ref.Context().Name())
}

func blobOp(verb, digest string, repo name.Repository) string {
	return fmt.Sprintf("%s blob %s to %s", verb, digest, repo.Name())
}
