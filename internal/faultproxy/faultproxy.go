// Package faultproxy is an HTTP proxy for tests that injects the faults of
// a hostile network in front of a registry: 5xx, 429 with Retry-After, a
// black hole, a stall, a reset mid-upload and mid-download, a truncated
// body, a cut status line. It injects by rule (the Nth request matching a
// method and path) or at a seeded rate, and counts what it injected.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Kind is a fault.
type Kind int

const (
	None Kind = iota
	// Status5xx answers 500, 502, 503 or 504 without forwarding.
	Status5xx
	// TooMany answers 429 with Retry-After: Proxy.RetryAfter seconds,
	// without forwarding.
	TooMany
	// BlackHole reads the request and never answers.
	BlackHole
	// Stall forwards the request, sends the first half of the answer
	// (the headers and half the body, or half the headers when there is
	// no body), then nothing more.
	Stall
	// ResetUpload reads part of the request body, then resets the
	// connection; the request is not forwarded.
	ResetUpload
	// ResetDownload forwards the request, sends the first half of the
	// answer, then resets the connection: the reply to a write is lost.
	ResetDownload
	// Truncate forwards the request, sends the first half of the
	// answer, then closes the connection cleanly.
	Truncate
	// CutStatus forwards the request and answers a cut status line.
	CutStatus
)

// Kinds lists every fault.
var Kinds = []Kind{Status5xx, TooMany, BlackHole, Stall, ResetUpload, ResetDownload, Truncate, CutStatus}

var kindNames = map[Kind]string{
	None: "none", Status5xx: "5xx", TooMany: "429", BlackHole: "black-hole", Stall: "stall",
	ResetUpload: "reset-upload", ResetDownload: "reset-download", Truncate: "truncate", CutStatus: "cut-status",
}

func (k Kind) String() string { return kindNames[k] }

// A Rule injects Kind into requests matching Method (any when "") and Path
// (any when nil): after letting Skip of them through, into Times of them
// (every one when 0).
type Rule struct {
	Method string
	Path   *regexp.Regexp
	Kind   Kind
	Skip   int
	Times  int

	hits int
}

// An Event is one injected fault.
type Event struct {
	Kind   Kind
	Method string
	Path   string // without the query
}

func (e Event) String() string { return fmt.Sprintf("%s %s %s", e.Kind, e.Method, e.Path) }

// Proxy forwards to an upstream HTTP server, injecting faults.
type Proxy struct {
	// URL is the proxy's base URL, http://127.0.0.1:PORT; Host is its
	// host:port.
	URL, Host string
	// RetryAfter is the Retry-After, in seconds, of a TooMany answer.
	RetryAfter int
	// Hold is the longest a black hole or a stall keeps a connection.
	Hold time.Duration

	upstream *url.URL
	tr       *http.Transport
	srv      *httptest.Server

	mu     sync.Mutex
	rules  []*Rule
	rate   float64
	kinds  []Kind
	rng    *rand.Rand
	events []Event
	held   map[net.Conn]bool
	closed bool
}

// New starts a proxy on a loopback port in front of upstream (a base URL,
// http://HOST:PORT). Close stops it.
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		RetryAfter: 1,
		Hold:       30 * time.Second,
		upstream:   u,
		tr:         &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16},
		rng:        rand.New(rand.NewPCG(1, 1)),
		held:       map[net.Conn]bool{},
	}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	p.Host = strings.TrimPrefix(p.srv.URL, "http://")
	return p, nil
}

// Close stops the proxy and drops the connections it holds.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.held {
		c.Close()
	}
	p.mu.Unlock()
	p.srv.Close()
	p.tr.CloseIdleConnections()
}

// AddRule adds a rule; rules are tried in the order added, before the rate.
func (p *Proxy) AddRule(r Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &r)
}

// SetRate injects, into requests no rule matched, a fault chosen among
// kinds (Kinds when none) with probability rate, drawn from a generator
// seeded with seed.
func (p *Proxy) SetRate(rate float64, seed uint64, kinds ...Kind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(kinds) == 0 {
		kinds = Kinds
	}
	p.rate, p.kinds, p.rng = rate, kinds, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Clear removes the rules and the rate; the counts stay.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules, p.rate = nil, 0
}

// Events returns the faults injected so far, in order.
func (p *Proxy) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.events...)
}

// Injected returns the number of faults injected so far.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.events)
}

// Counts returns "kind=n" for every kind injected, sorted.
func (p *Proxy) Counts() string {
	n := map[string]int{}
	for _, e := range p.Events() {
		n[e.Kind.String()]++
	}
	var s []string
	for k, v := range n {
		s = append(s, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func (p *Proxy) pick(r *http.Request) (Kind, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := None
	for _, rule := range p.rules {
		if rule.Method != "" && rule.Method != r.Method || rule.Path != nil && !rule.Path.MatchString(r.URL.Path) {
			continue
		}
		if rule.Skip > 0 {
			rule.Skip--
			continue
		}
		if rule.Times == 0 || rule.hits < rule.Times {
			rule.hits++
			k = rule.Kind
			break
		}
	}
	if k == None && p.rate > 0 && p.rng.Float64() < p.rate {
		k = p.kinds[p.rng.IntN(len(p.kinds))]
	}
	if k != None {
		p.events = append(p.events, Event{Kind: k, Method: r.Method, Path: r.URL.Path})
	}
	return k, p.rng.IntN(4)
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, n := p.pick(r)
	switch kind {
	case Status5xx:
		code := []int{500, 502, 503, 504}[n]
		http.Error(w, "injected "+http.StatusText(code), code)
		return
	case TooMany:
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
		http.Error(w, "injected: too many requests", http.StatusTooManyRequests)
		return
	case BlackHole:
		io.Copy(io.Discard, r.Body)
		if c := p.hijack(w); c != nil {
			p.hold(c)
		}
		return
	case ResetUpload:
		io.CopyN(io.Discard, r.Body, max(r.ContentLength/2, 1<<10))
		if c := p.hijack(w); c != nil {
			reset(c)
		}
		return
	}
	resp, body, err := p.forward(r)
	if err != nil {
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if kind == None {
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
		return
	}
	c := p.hijack(w)
	if c == nil {
		return
	}
	raw, head := serialize(r, resp, body)
	half := raw[:head/2]
	if len(raw) > head {
		half = raw[:head+(len(raw)-head)/2]
	}
	switch kind {
	case Stall:
		c.Write(half)
		p.hold(c)
	case ResetDownload:
		c.Write(half)
		reset(c)
	case Truncate:
		c.Write(half)
		c.Close()
	case CutStatus:
		c.Write([]byte("HTTP/1.1 2"))
		c.Close()
	}
}

// forward sends r upstream and reads the whole answer.
func (p *Proxy) forward(r *http.Request) (*http.Response, []byte, error) {
	reqBody, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, err
	}
	u := *p.upstream
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(reqBody))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range r.Header {
		out.Header[k] = v
	}
	out.Header.Del("Connection")
	out.Host = r.Host // the registry builds its Location URLs on it
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		resp.Header.Set("Location", strings.Replace(loc, "//"+p.upstream.Host+"/", "//"+r.Host+"/", 1))
	}
	return resp, body, nil
}

// serialize returns the HTTP/1.1 answer resp, with body, and the length of
// its head (status line and headers).
func serialize(r *http.Request, resp *http.Response, body []byte) ([]byte, int) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %s\r\n", resp.Status)
	h := resp.Header.Clone()
	h.Del("Transfer-Encoding")
	h.Del("Connection")
	if r.Method != http.MethodHead {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	} else if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	h.Set("Connection", "close")
	h.Write(&b)
	b.WriteString("\r\n")
	head := b.Len()
	if r.Method != http.MethodHead {
		b.Write(body)
	}
	return b.Bytes(), head
}

func (p *Proxy) hijack(w http.ResponseWriter) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "faultproxy: cannot hijack", http.StatusInternalServerError)
		return nil
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return nil
	}
	return c
}

// hold keeps c open, sending nothing, until the client closes it, Hold
// passes or the proxy closes.
func (p *Proxy) hold(c net.Conn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.held[c] = true
	p.mu.Unlock()
	c.SetReadDeadline(time.Now().Add(p.Hold))
	io.Copy(io.Discard, c)
	c.Close()
	p.mu.Lock()
	delete(p.held, c)
	p.mu.Unlock()
}

// reset closes c with a TCP reset.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
