package publish

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Target is a place deps images are published to and looked up in.
type Target interface {
	// String returns the target in the form ParseTarget accepts.
	String() string
	// Lookup returns the descriptor of the manifest (or index) tagged tag,
	// or ErrNotFound.
	Lookup(ctx context.Context, tag string) (*v1.Descriptor, error)
	// Write publishes a (a v1.Image or a v1.ImageIndex) under tag. Content
	// the target already holds is not written again, and the tag is
	// written last: an interrupted Write never leaves tag naming missing
	// content.
	Write(ctx context.Context, tag string, a Artifact) (*Report, error)
	// List returns the deps images in the target: every tag that parses
	// with ParseTag, sorted by tag.
	List(ctx context.Context) ([]Entry, error)
	// Image returns the image tagged tag, whose descriptor Lookup or List
	// returned; for an index, its image for linux on this machine's
	// architecture, else its first: what a deps image's metadata and
	// labels are read from.
	Image(ctx context.Context, tag string, desc v1.Descriptor) (v1.Image, error)
	// Index returns the index tagged tag, whose descriptor Lookup or List
	// returned, to read each platform's image of a multi-platform deps
	// image; an error when desc is not an index.
	Index(ctx context.Context, tag string, desc v1.Descriptor) (v1.ImageIndex, error)
	// Ref returns the reference to the manifest desc tagged tag, in the
	// form its consumers accept: repo:tag@digest for a registry (what a
	// Dockerfile FROM takes), oci-layout://DIR@digest for an OCI layout
	// (what 'docker buildx build --build-context' takes), repo:tag for a
	// tarball (the name 'docker load' gives it).
	Ref(tag string, desc v1.Descriptor) string
}

// Artifact is a v1.Image or a v1.ImageIndex.
type Artifact interface {
	MediaType() (types.MediaType, error)
	Digest() (v1.Hash, error)
	Size() (int64, error)
	RawManifest() ([]byte, error)
}

// ErrNotFound is returned by Lookup when the tag does not exist.
var ErrNotFound = errors.New("not found")

// Entry is one deps image in a target.
type Entry struct {
	Tag        Tag
	Descriptor v1.Descriptor
	// Image returns the image, or for an index the image of its first
	// manifest: what the deps image's metadata is read from.
	Image func() (v1.Image, error)
}

// Report says what a Write did.
type Report struct {
	// Ref is the reference of the written manifest (see Target.Ref).
	Ref    string
	Digest v1.Hash
	// Layers lists every distinct layer of the artifact once.
	Layers []LayerReport
	// BytesWritten counts the blob bytes sent to the target: the layers and
	// configs it did not already hold.
	BytesWritten int64
}

// LayerReport says whether a layer was new to the target.
type LayerReport struct {
	Digest v1.Hash
	Size   int64
	// Reused reports whether the target already held the layer (or, for a
	// registry, mounted it from another repository) so it was not sent.
	Reused bool
}

// Counts returns the number of new and of reused layers.
func (r *Report) Counts() (new, reused int) {
	for _, l := range r.Layers {
		if l.Reused {
			reused++
		} else {
			new++
		}
	}
	return new, reused
}

// Progress is a snapshot of the bytes a Write has sent, out of Total (0
// when not known yet).
type Progress struct {
	Complete, Total int64
}

// Option configures ParseTarget.
type Option func(*options) error

type options struct {
	insecure   bool
	keychain   authn.Keychain
	remoteOpts []remote.Option
	progress   func(Progress)
	tarRepo    string
	timeout    time.Duration
}

// WithInsecure allows plain HTTP and unverified TLS for a registry target.
// The default is false: HTTPS with verified certificates, except for
// loopback and private addresses, where go-containerregistry falls back to
// plain HTTP.
func WithInsecure(insecure bool) Option {
	return func(o *options) error { o.insecure = insecure; return nil }
}

// WithTimeout sets how long a registry may make no progress (connecting,
// the TLS handshake, answering a request, sending or accepting a byte of a
// body) before the request is abandoned and, when it can be, sent again;
// an operation made of a few small requests (a lookup, a stamp, a tag, a
// delete) is abandoned after 10 times d. The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout %s: want a positive duration", d)
		}
		o.timeout = d
		return nil
	}
}

// WithKeychain sets where registry credentials come from. The default is
// authn.DefaultKeychain: the Docker config ($DOCKER_CONFIG) and its
// credential helpers.
func WithKeychain(kc authn.Keychain) Option {
	return func(o *options) error { o.keychain = kc; return nil }
}

// WithRemoteOptions passes options to go-containerregistry's remote
// package, after cachecheck's own (context, keychain, progress). The
// default is none.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) error { o.remoteOpts = append(o.remoteOpts, opts...); return nil }
}

// WithProgress calls f as a Write sends bytes. Calls come from one
// goroutine at a time. The default is no progress.
func WithProgress(f func(Progress)) Option {
	return func(o *options) error { o.progress = f; return nil }
}

// WithTarballRepository sets the repository name a tarball target gives its
// image, so 'docker load' names it REPO:TAG. The default is
// "cachecheck-deps".
func WithTarballRepository(repo string) Option {
	return func(o *options) error {
		if _, err := name.NewRepository(repo); err != nil {
			return fmt.Errorf("tarball repository %q: %w", repo, err)
		}
		o.tarRepo = repo
		return nil
	}
}

func newOptions(opts []Option) (*options, error) {
	o := &options{keychain: authn.DefaultKeychain, tarRepo: "cachecheck-deps"}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ParseTarget parses a target:
//
//	oci:DIR                      an OCI image layout directory (created if missing)
//	tarball:FILE                 a 'docker load' tarball (replaced on each write)
//	HOST[:PORT]/PATH             a registry repository, e.g. registry.example.com/team/app-deps
//
// A registry target names a repository: no tag, no digest; cachecheck chooses
// the tag (see Tag).
func ParseTarget(s string, opts ...Option) (Target, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	switch {
	case s == "":
		return nil, fmt.Errorf("empty target: want oci:DIR, tarball:FILE or a registry repository such as registry.example.com/team/app-deps")
	case strings.HasPrefix(s, "oci:"):
		dir := strings.TrimPrefix(s, "oci:")
		if dir == "" {
			return nil, fmt.Errorf("target %q: oci: needs a directory, as in oci:.cachecheck/oci", s)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", s, err)
		}
		return &layoutTarget{spec: s, dir: abs, o: o}, nil
	case strings.HasPrefix(s, "tarball:"):
		file := strings.TrimPrefix(s, "tarball:")
		if file == "" {
			return nil, fmt.Errorf("target %q: tarball: needs a file name, as in tarball:deps.tar", s)
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", s, err)
		}
		return &tarballTarget{spec: s, file: abs, o: o}, nil
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return nil, fmt.Errorf("target %q: want a registry repository without a scheme (%s), oci:DIR or tarball:FILE", s, strings.TrimPrefix(s[i:], "://"))
	}
	if err := checkRegistryTarget(s); err != nil {
		return nil, err
	}
	var nameOpts []name.Option
	if o.insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	repo, err := name.NewRepository(s, append(nameOpts, name.StrictValidation)...)
	if err != nil {
		if ref, rerr := name.ParseReference(s, nameOpts...); rerr == nil {
			return nil, fmt.Errorf("target %q names a tag or digest; give the repository %q alone: cachecheck chooses the tag", s, ref.Context().String())
		}
		return nil, fmt.Errorf("target %q is not a registry repository (want HOST[:PORT]/PATH), oci:DIR or tarball:FILE: %w", s, err)
	}
	return newRegistryTarget(s, repo, o), nil
}

// checkRegistryTarget checks what go-containerregistry lets through or
// misreads in a registry target: a missing host, a kind of target that
// does not exist (ftp:x), and a port out of range.
func checkRegistryTarget(s string) error {
	host, _, hasPath := strings.Cut(s, "/")
	if !hasPath {
		if kind, rest, ok := strings.Cut(s, ":"); ok && kind != "" && !isPort(rest) {
			return fmt.Errorf("target %q: unknown kind %q; want oci:DIR, tarball:FILE or a registry repository such as registry.example.com/team/app-deps", s, kind+":")
		}
		if strings.ContainsAny(host, ".:") || host == "localhost" {
			return fmt.Errorf("target %q names a registry but no repository; add one, as in %s/team/app-deps", s, s)
		}
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		fix := "registry.example.com/" + s
		if _, err := name.NewRepository(fix, name.StrictValidation); err != nil {
			return fmt.Errorf("target %q does not name a registry host; want HOST[:PORT]/PATH, as in registry.example.com/team/app-deps", s)
		}
		return fmt.Errorf("target %q does not name a registry host; write it in full, as in %s", s, fix)
	}
	return checkPort(host)
}

// checkPort checks the port of a registry host, if it has one.
func checkPort(host string) error {
	i := strings.LastIndex(host, ":")
	if i < 0 || strings.HasSuffix(host, "]") {
		return nil // no port, or an IPv6 address without one
	}
	if port := host[i+1:]; !isPort(port) {
		return fmt.Errorf("registry host %q: port %q is not a number from 1 to 65535", host, port)
	}
	return nil
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == s
}
