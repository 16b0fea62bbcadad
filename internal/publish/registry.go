package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryTarget is a repository in a registry.
type registryTarget struct {
	spec string
	repo name.Repository
	o    *options

	obsOnce sync.Once
	obs     *observer // what this target's pushes did, across Prepush and Write

	rtOnce sync.Once
	rt     http.RoundTripper // bounds and retries every request (reliableTransport)
}

func (t *registryTarget) observer() *observer {
	t.obsOnce.Do(func() { t.obs = &observer{seen: map[string]string{}} })
	return t.obs
}

func newRegistryTarget(spec string, repo name.Repository, o *options) *registryTarget {
	return &registryTarget{spec: spec, repo: repo, o: o}
}

func (t *registryTarget) String() string { return t.spec }

// remoteOptions returns the options of every remote call; wrap, when not
// nil, wraps the transport. The transport bounds and retries every request
// (see reliableTransport); go-containerregistry adds its own retries of
// whole uploads, the user agent and authentication above it.
func (t *registryTarget) remoteOptions(ctx context.Context, wrap func(http.RoundTripper) http.RoundTripper) []remote.Option {
	t.rtOnce.Do(func() {
		t.rt = newReliableTransport(newBaseTransport(t.netConfig(), t.o.insecure), t.netConfig())
	})
	base := t.rt
	if wrap != nil {
		base = wrap(base)
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(t.o.keychain),
		remote.WithTransport(base),
		remote.WithUserAgent("cachecheck"),
	}
	opts = append(opts, retryRemoteOptions(t.netConfig())...)
	return append(opts, t.o.remoteOpts...)
}

func (t *registryTarget) netConfig() netConfig { return newNetConfig(t.o.timeout) }

// errOpTimeout is the cause of an operation's context that ran out of
// the time opContext gives it.
var errOpTimeout = errors.New("operation timed out")

// opContext bounds an operation made of a few small requests.
func (t *registryTarget) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, t.netConfig().opTimeout(), errOpTimeout)
}

// fail wraps err, from op, in a RegistryError; ctx is the operation's.
func (t *registryTarget) fail(ctx context.Context, op string, err error) error {
	if context.Cause(ctx) == errOpTimeout {
		err = fmt.Errorf("%w: the operation took longer than %s (10 times --timeout)", err, t.netConfig().opTimeout())
	}
	return registryErr(t.repo, op, err)
}

func (t *registryTarget) tag(tag string) (name.Tag, error) {
	return name.NewTag(t.repo.Name()+":"+tag, t.nameOptions()...)
}

func (t *registryTarget) nameOptions() []name.Option {
	if t.o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (t *registryTarget) Ref(tag string, desc v1.Descriptor) string {
	return t.repo.Name() + ":" + tag + "@" + desc.Digest.String()
}

func (t *registryTarget) Lookup(ctx context.Context, tag string) (*v1.Descriptor, error) {
	ref, err := t.tag(tag)
	if err != nil {
		return nil, err
	}
	ctx, cancel := t.opContext(ctx)
	defer cancel()
	desc, err := remote.Head(ref, t.remoteOptions(ctx, nil)...)
	if err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, t.fail(ctx, tagOp("looking up", ref), err)
	}
	return desc, nil
}

// retryBlobUnknown calls f until it succeeds or fails otherwise than with
// a blob unknown to the registry, for about 3 s at most.
func retryBlobUnknown(ctx context.Context, f func() error) error {
	var err error
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if err = f(); err == nil || !blobUnknown(err) || wait > time.Second {
			return err
		}
	}
}

// blobUnknown reports whether err is a registry's answer that a blob a
// manifest names is unknown to it.
func blobUnknown(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestBlobUnknownErrorCode || d.Code == transport.BlobUnknownErrorCode {
			return true
		}
	}
	return false
}

// isNotFound reports whether err is a registry's 404 for a manifest.
func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

func (t *registryTarget) Write(ctx context.Context, tag string, a Artifact) (*Report, error) {
	ref, err := t.tag(tag)
	if err != nil {
		return nil, err
	}
	layers, err := distinctLayers(a)
	if err != nil {
		return nil, err
	}
	obs := t.observer()
	before := obs.sent()
	opts := t.remoteOptions(ctx, func(rt http.RoundTripper) http.RoundTripper { return &observingTransport{inner: rt, obs: obs} })
	var progressDone chan struct{}
	var progressOpt []remote.Option
	if t.o.progress != nil {
		updates := make(chan v1.Update, 16)
		progressDone = make(chan struct{})
		go func() {
			defer close(progressDone)
			for u := range updates {
				t.o.progress(Progress{Complete: u.Complete, Total: u.Total})
			}
		}()
		progressOpt = append(progressOpt, remote.WithProgress(updates))
	}
	desc, err := pushTagged(ref, a, opts, progressOpt)
	if progressDone != nil {
		<-progressDone
	}
	// Another writer pushing the same blobs at the same moment (two warms of
	// one key) can make the registry answer that a blob is unknown while it
	// commits it; that is temporary: push again, the blobs are there.
	if err != nil && blobUnknown(err) {
		err = retryBlobUnknown(ctx, func() error {
			var err error
			desc, err = pushTagged(ref, a, opts, nil)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	rep := &Report{Ref: t.Ref(tag, desc), Digest: desc.Digest, BytesWritten: obs.sent() - before + obs.takePrepushed()}
	for _, l := range layers {
		st := obs.state(l.Digest.String())
		rep.Layers = append(rep.Layers, LayerReport{Digest: l.Digest, Size: l.Size, Reused: st != "uploaded"})
	}
	obs.reset()
	return rep, nil
}

// pushTagged writes the content of a by digest, then the tag: the registry
// holds the manifest before any tag names it. progressOpt is passed to the
// content push only: it closes the progress channel when done.
//
// A write that fails with no clear answer (the reply was lost) may have
// been done: the registry is asked (HEAD) before the failure is reported.
func pushTagged(ref name.Tag, a Artifact, opts, progressOpt []remote.Option) (v1.Descriptor, error) {
	desc, err := descriptorOf(a)
	if err != nil {
		return v1.Descriptor{}, err
	}
	repo := ref.Context()
	byDigest := repo.Digest(desc.Digest.String())
	pushOpts := append(opts[:len(opts):len(opts)], progressOpt...)
	switch a := a.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(byDigest, a, pushOpts...)
	case v1.Image:
		err = remote.Write(byDigest, a, pushOpts...)
	default:
		return v1.Descriptor{}, fmt.Errorf("cannot write a %T: want a v1.Image or v1.ImageIndex", a)
	}
	if err != nil && !holds(byDigest, desc.Digest, opts) {
		return v1.Descriptor{}, registryErr(repo, fmt.Sprintf("pushing the blobs and manifest %s to %s", desc.Digest, repo.Name()), err)
	}
	// The tag: only the manifest is put again, every blob is there.
	if err := remote.Tag(ref, a, opts...); err != nil && !holds(ref, desc.Digest, opts) {
		return v1.Descriptor{}, registryErr(repo, tagOp("writing", ref), err)
	}
	return desc, nil
}

// holds reports whether the registry answers that ref names the manifest
// d: what a write whose reply was lost may have done.
func holds(ref name.Reference, d v1.Hash, opts []remote.Option) bool {
	got, err := remote.Head(ref, opts...)
	return err == nil && got.Digest == d
}

func (t *registryTarget) Image(ctx context.Context, tag string, d v1.Descriptor) (v1.Image, error) {
	ref := t.repo.Digest(d.Digest.String())
	op := fmt.Sprintf("reading manifest %s of %s", d.Digest, t.repo.Name())
	desc, err := remote.Get(ref, t.remoteOptions(ctx, nil)...)
	if err != nil {
		return nil, t.fail(ctx, op, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, t.fail(ctx, op, err)
		}
		img, err := firstImage(idx)
		if err != nil {
			return nil, t.fail(ctx, op, err)
		}
		return img, nil
	}
	return desc.Image()
}

func (t *registryTarget) Index(ctx context.Context, tag string, d v1.Descriptor) (v1.ImageIndex, error) {
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s:%s is a single image, not an index", t.repo.Name(), tag)
	}
	ref := t.repo.Digest(d.Digest.String())
	op := fmt.Sprintf("reading index %s of %s", d.Digest, t.repo.Name())
	desc, err := remote.Get(ref, t.remoteOptions(ctx, nil)...)
	if err != nil {
		return nil, t.fail(ctx, op, err)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, t.fail(ctx, op, err)
	}
	return idx, nil
}

func (t *registryTarget) List(ctx context.Context) ([]Entry, error) {
	opts := t.remoteOptions(ctx, nil)
	tags, err := remote.List(t.repo, opts...)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, t.fail(ctx, "listing the tags of "+t.repo.Name(), err)
	}
	sort.Strings(tags)
	var entries []Entry
	for _, s := range tags {
		tag, err := ParseTag(s)
		if err != nil {
			continue
		}
		ref, err := t.tag(s)
		if err != nil {
			return nil, err
		}
		desc, err := remote.Get(ref, opts...)
		if err != nil {
			return nil, t.fail(ctx, tagOp("reading", ref), err)
		}
		entries = append(entries, Entry{Tag: tag, Descriptor: desc.Descriptor, Image: func() (v1.Image, error) {
			if desc.MediaType.IsIndex() {
				idx, err := desc.ImageIndex()
				if err != nil {
					return nil, err
				}
				return firstImage(idx)
			}
			return desc.Image()
		}})
	}
	return entries, nil
}

// Prepusher is a Target that can upload layers before the image that holds
// them is complete.
type Prepusher interface {
	// Prepush uploads the layers the target does not hold, computing and
	// sending each as soon as it can, several at a time, so that packing
	// one layer overlaps sending another. Layers are packed in the order
	// given: put the largest first. The next Write reports them.
	Prepush(ctx context.Context, layers []v1.Layer) error
}

func (t *registryTarget) Prepush(ctx context.Context, layers []v1.Layer) error {
	obs := t.observer()
	before := obs.sent()
	opts := t.remoteOptions(ctx, func(rt http.RoundTripper) http.RoundTripper { return &observingTransport{inner: rt, obs: obs} })
	var mu sync.Mutex
	errs := make(chan error, 2*len(layers))
	// Packing (computing a layer's digests) runs as many layers at a time
	// as there are CPUs, in the order given; each packed layer goes to the
	// uploaders at once, so that sending one never holds up packing the
	// next.
	work, packed := make(chan v1.Layer), make(chan v1.Layer, len(layers))
	workers := min(runtime.GOMAXPROCS(0), len(layers))
	var pwg sync.WaitGroup
	for range workers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for l := range work {
				if _, err := l.Digest(); err != nil {
					errs <- fmt.Errorf("packing a layer for %s: %w", t.repo, err)
					continue
				}
				packed <- l
			}
		}()
	}
	go func() {
		pwg.Wait()
		close(packed)
	}()
	// Sending is the registry's work more than ours: more at once than
	// there are CPUs, so that a large layer packed late is sent at once
	// rather than queued behind small ones (go-containerregistry sends 4).
	var wg sync.WaitGroup
	for range min(max(4, workers), len(layers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range packed {
				d, _ := l.Digest() // computed by the packers
				// One upload of a blob at a time in this process: a
				// second warm of a layer another is sending (warm --all
				// --jobs, units sharing a module) waits for it and then
				// finds the blob there instead of sending it again.
				unlock, err := uploads.lock(ctx, t.repo.String()+"@"+d.String())
				if err == nil {
					err = remote.WriteLayer(t.repo, l, opts...)
					unlock()
				}
				if err != nil {
					errs <- registryErr(t.repo, blobOp("pushing", d.String(), t.repo), err)
					continue
				}
				if t.o.progress != nil {
					mu.Lock()
					t.o.progress(Progress{Complete: obs.sent() - before})
					mu.Unlock()
				}
			}
		}()
	}
	for _, l := range layers {
		work <- l
	}
	close(work)
	wg.Wait()
	close(errs)
	obs.mu.Lock()
	obs.prepushed += obs.bytes - before
	obs.mu.Unlock()
	return <-errs
}

// uploads serializes the uploads of one blob to one repository within
// the process.
var uploads keyedMutex

// keyedMutex is a mutex per key, held for as long as someone uses it.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	held  chan struct{} // holds a value while locked
	users int
}

// lock locks key and returns the function that unlocks it, or ctx's error
// when ctx ends first: a push waiting for another's upload of the same
// blob gives up with its context, as its own requests would.
func (k *keyedMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{held: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	leave := func() {
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.held <- struct{}{}:
		return func() {
			<-l.held
			leave()
		}, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}

// observer records what a push did to each blob, from the requests it sent.
type observer struct {
	mu        sync.Mutex
	seen      map[string]string // digest → "exists", "mounted" or "uploaded"
	bytes     int64             // blob bytes sent
	prepushed int64             // of which by Prepush, not yet reported
}

func (o *observer) set(digest, state string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen[digest] != "uploaded" {
		o.seen[digest] = state
	}
}

// reset forgets what the pushes did, once a Write has reported it.
func (o *observer) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = map[string]string{}
}

func (o *observer) sent() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}

// takePrepushed returns the bytes Prepush sent and forgets them, so that
// the next Write counts them once.
func (o *observer) takePrepushed() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.prepushed
	o.prepushed = 0
	return n
}

func (o *observer) state(digest string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen[digest]
}

// observingTransport watches the blob requests of a push: a HEAD answered
// 200 (the registry has the blob), a mount answered 201, and a PUT that
// completes an upload, counting the bytes sent.
type observingTransport struct {
	inner http.RoundTripper
	obs   *observer
}

func (t *observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	isUpload := strings.Contains(path, "/blobs/uploads/")
	if isUpload && req.Body != nil && (req.Method == http.MethodPatch || req.Method == http.MethodPut) {
		req.Body = &countingBody{ReadCloser: req.Body, obs: t.obs}
	}
	resp, err := t.inner.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodHead && strings.Contains(path, "/blobs/sha256:") && resp.StatusCode == http.StatusOK:
		t.obs.set(path[strings.LastIndex(path, "/")+1:], "exists")
	case req.Method == http.MethodPost && isUpload && q.Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		t.obs.set(q.Get("mount"), "mounted")
	case req.Method == http.MethodPut && isUpload && q.Get("digest") != "" && resp.StatusCode == http.StatusCreated:
		t.obs.set(q.Get("digest"), "uploaded")
	}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	obs *observer
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.obs.mu.Lock()
	b.obs.bytes += int64(n)
	b.obs.mu.Unlock()
	return n, err
}
