// Package testimage builds the Go builder image that integration tests and
// benchmarks use where a Dockerfile would say FROM golang: nothing can be
// pulled from public registries here, so the image is assembled from this
// machine's Go installation and a static busybox.
package testimage

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Option configures Image and Push.
type Option func(*options) error

type options struct {
	goroot   string
	busybox  string
	caCerts  string
	tools    []string
	trees    []string
	created  time.Time
	platform v1.Platform
	remote   []remote.Option
}

// WithGoRoot sets the Go installation copied to /usr/local/go. The default is
// the GOROOT reported by the go command on PATH.
func WithGoRoot(dir string) Option {
	return func(o *options) error { o.goroot = dir; return nil }
}

// WithBusybox sets the statically linked busybox binary that provides /bin/sh
// and the usual commands. The default is /bin/busybox (Debian's
// busybox-static).
func WithBusybox(file string) Option {
	return func(o *options) error { o.busybox = file; return nil }
}

// WithCACertificates sets the certificate bundle installed as
// /etc/ssl/certs/ca-certificates.crt. The default is that file on this
// machine.
func WithCACertificates(file string) Option {
	return func(o *options) error { o.caCerts = file; return nil }
}

// WithTools adds this machine's programs (names looked up on PATH, or
// absolute paths) to the image at the same paths, with the shared
// libraries ldd lists for them: make, which a golang image has and many
// Dockerfiles run. The default is none.
func WithTools(names ...string) Option {
	return func(o *options) error { o.tools = append(o.tools, names...); return nil }
}

// WithTree adds the files under dir to the image at the same paths below
// the root, in a layer of their own on top: a C compiler and C library
// unpacked from Debian's packages, say. The default is none.
func WithTree(dir string) Option {
	return func(o *options) error { o.trees = append(o.trees, dir); return nil }
}

// WithPlatform sets the platform the image's config names. The default is
// linux on this machine's architecture. Only the Go installation is the
// platform's (give it with [WithGoRoot]): busybox and the tools are this
// machine's programs, so a variant for another architecture serves what
// reads its files (its GOROOT), not a build that runs it.
func WithPlatform(p v1.Platform) Option {
	return func(o *options) error { o.platform = p; return nil }
}

// WithRemoteOptions passes options to remote.Write in Push. The default is
// none (anonymous access).
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) error { o.remote = append(o.remote, opts...); return nil }
}

func newOptions(opts []Option) (*options, error) {
	o := &options{
		busybox:  "/bin/busybox",
		caCerts:  "/etc/ssl/certs/ca-certificates.crt",
		platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH},
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		o.created = time.Unix(sec, 0).UTC()
	} else {
		o.created = time.Unix(0, 0).UTC()
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.goroot == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return nil, fmt.Errorf("finding GOROOT with 'go env GOROOT': %w", err)
		}
		o.goroot = strings.TrimSpace(string(out))
	}
	return o, nil
}

// Env is the environment of the image, like that of the official golang
// images.
var Env = []string{
	"PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"GOPATH=/go",
	"GOTOOLCHAIN=local",
	"HOME=/root",
}

// Image returns the builder image: busybox, CA certificates, /etc/passwd,
// /tmp (mode 1777) and /go in one layer, the Go installation at
// /usr/local/go in another. Layers are streamed from disk, never held in
// memory, and have fixed times and owners, so the same inputs give the same
// digest.
func Image(opts ...Option) (v1.Image, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{o.busybox, o.caCerts, filepath.Join(o.goroot, "bin", "go")} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("building the test image: %w", err)
		}
	}
	applets, err := busyboxApplets(o.busybox)
	if err != nil {
		return nil, err
	}
	tools, err := toolFiles(o.tools)
	if err != nil {
		return nil, err
	}
	goVersion, err := os.ReadFile(filepath.Join(o.goroot, "VERSION"))
	if err != nil {
		return nil, fmt.Errorf("reading the Go version: %w", err)
	}
	base, err := layer(func(tw *tar.Writer) error { return writeBase(tw, o, applets, tools) })
	if err != nil {
		return nil, err
	}
	goLayer, err := layer(func(tw *tar.Writer) error { return writeTree(tw, o, o.goroot, "usr/local/go") })
	if err != nil {
		return nil, err
	}
	layers := []v1.Layer{base, goLayer}
	for _, dir := range o.trees {
		l, err := layer(func(tw *tar.Writer) error { return writeTree(tw, o, dir, "") })
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		return nil, fmt.Errorf("building the test image: %w", err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = o.platform.OS, o.platform.Architecture, o.platform.Variant
	cf.Created = v1.Time{Time: o.created}
	cf.Config.Env = append([]string{}, Env...)
	cf.Config.Env = append(cf.Config.Env, "GOLANG_VERSION="+strings.TrimPrefix(firstLine(goVersion), "go"))
	cf.Config.WorkingDir = "/go"
	cf.Config.Cmd = []string{"/bin/sh"}
	for i := range cf.History {
		cf.History[i].Created = v1.Time{Time: o.created}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("building the test image: %w", err)
	}
	return img, nil
}

// Push builds the image and writes it to ref, returning the reference by
// digest.
func Push(ctx context.Context, ref string, opts ...Option) (name.Digest, error) {
	o, err := newOptions(opts)
	if err != nil {
		return name.Digest{}, err
	}
	tag, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	img, err := Image(opts...)
	if err != nil {
		return name.Digest{}, err
	}
	ropts := append([]remote.Option{remote.WithContext(ctx)}, o.remote...)
	if err := remote.Write(tag, img, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing the test image to %q: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return tag.Context().Digest(d.String()), nil
}

// Index returns a multi-platform index of the images the option sets
// describe, one image each (see [Image]), like the official golang
// images: an OCI index whose manifests carry their platforms.
func Index(variants ...[]Option) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for _, opts := range variants {
		o, err := newOptions(opts)
		if err != nil {
			return nil, err
		}
		img, err := Image(opts...)
		if err != nil {
			return nil, err
		}
		p := o.platform
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx, adds...), nil
}

// PushIndex builds the [Index] of the variants and writes it to ref,
// returning the reference by digest.
func PushIndex(ctx context.Context, ref string, variants ...[]Option) (name.Digest, error) {
	tag, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	idx, err := Index(variants...)
	if err != nil {
		return name.Digest{}, err
	}
	var ropts []remote.Option
	if len(variants) > 0 {
		o, err := newOptions(variants[0])
		if err != nil {
			return name.Digest{}, err
		}
		ropts = o.remote
	}
	if err := remote.WriteIndex(tag, idx, append([]remote.Option{remote.WithContext(ctx)}, ropts...)...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing the test index to %q: %w", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return tag.Context().Digest(d.String()), nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(s)
}

// layer makes a gzip layer whose uncompressed tar is written by write each
// time the layer is read.
func layer(write func(*tar.Writer) error) (v1.Layer, error) {
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			err := write(tw)
			if err == nil {
				err = tw.Close()
			}
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
	l, err := tarball.LayerFromOpener(opener,
		tarball.WithCompressionLevel(gzip.BestSpeed),
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making a layer: %w", err)
	}
	return l, nil
}

// busyboxApplets lists the paths (without the leading slash) that busybox
// installs as links to itself.
func busyboxApplets(busybox string) ([]string, error) {
	out, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("listing the applets of %s: %w", busybox, err)
	}
	var applets []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && l != "bin/busybox" {
			applets = append(applets, l)
		}
	}
	sort.Strings(applets)
	return applets, nil
}

const passwd = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const group = `root:x:0:
nogroup:x:65534:
`

// toolFiles returns the files the programs need, image path (no leading
// slash) to the file on this machine: each program and the shared
// libraries and loader ldd names for it.
func toolFiles(names []string) (map[string]string, error) {
	files := map[string]string{}
	for _, n := range names {
		bin, err := exec.LookPath(n)
		if err != nil {
			return nil, fmt.Errorf("adding %s to the test image: %w", n, err)
		}
		if bin, err = filepath.Abs(bin); err != nil {
			return nil, err
		}
		files[strings.TrimPrefix(bin, "/")] = bin
		out, err := exec.Command("ldd", bin).Output()
		if err != nil {
			// "not a dynamic executable": nothing more to add.
			continue
		}
		for _, l := range strings.Split(string(out), "\n") {
			// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
			// "/lib64/ld-linux-x86-64.so.2 (0x...)"; linux-vdso has no file.
			f := strings.Fields(l)
			var lib string
			switch {
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				lib = f[2]
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				lib = f[0]
			default:
				if len(f) >= 3 && f[1] == "=>" && f[2] == "not" {
					return nil, fmt.Errorf("adding %s to the test image: ldd: %s", n, strings.TrimSpace(l))
				}
				continue
			}
			files[strings.TrimPrefix(path.Clean(lib), "/")] = lib
		}
	}
	return files, nil
}

func writeBase(tw *tar.Writer, o *options, applets []string, tools map[string]string) error {
	dirs := map[string]int64{
		"bin": 0o755, "etc": 0o755, "etc/ssl": 0o755, "etc/ssl/certs": 0o755,
		"go": 0o777, "go/bin": 0o777, "go/src": 0o777, "root": 0o700, "sbin": 0o755, "tmp": 0o1777,
		"usr": 0o755, "usr/bin": 0o755, "usr/local": 0o755, "usr/local/bin": 0o755, "usr/sbin": 0o755,
		"var": 0o755,
	}
	for _, a := range append(slices.Collect(maps.Keys(tools)), applets...) {
		for d := path.Dir(a); d != "."; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	type entry struct {
		hdr  tar.Header
		data []byte
		file string
	}
	var entries []entry
	for d, mode := range dirs {
		entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode}})
	}
	files := map[string][]byte{"etc/passwd": []byte(passwd), "etc/group": []byte(group),
		"etc/nsswitch.conf": []byte("hosts: files dns\n")}
	for n, data := range files {
		entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(data))}, data: data})
	}
	type copied struct{ name, src string }
	copies := []copied{{"bin/busybox", o.busybox}, {"etc/ssl/certs/ca-certificates.crt", o.caCerts}}
	for name, src := range tools {
		copies = append(copies, copied{name, src})
	}
	for _, f := range copies {
		// Stat, not Lstat: a library's symlink (ld-linux-x86-64.so.2)
		// becomes the file it names.
		fi, err := os.Stat(f.src)
		if err != nil {
			return err
		}
		mode := int64(0o644)
		if f.name == "bin/busybox" || fi.Mode()&0o111 != 0 {
			mode = 0o755
		}
		entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: mode, Size: fi.Size()}, file: f.src})
	}
	for _, a := range applets {
		if _, ok := tools[a]; ok {
			continue // the real program, not busybox's
		}
		entries = append(entries, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: a, Linkname: "/bin/busybox", Mode: 0o777}})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].hdr.Name < entries[j].hdr.Name })
	for _, e := range entries {
		e.hdr.ModTime = o.created
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return err
		}
		switch {
		case e.data != nil:
			if _, err := tw.Write(e.data); err != nil {
				return err
			}
		case e.file != "":
			if err := copyFile(tw, e.file, e.hdr.Size); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeTree writes directory src under dst in lexical order with fixed
// owners and times.
func writeTree(tw *tar.Writer, o *options, src, dst string) error {
	for _, d := range parents(dst) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: o.created, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		name := dst
		if rel != "." {
			name = path.Join(dst, filepath.ToSlash(rel))
		} else if dst == "" {
			return nil // the root itself
		}
		hdr := &tar.Header{Name: name, Mode: int64(fi.Mode().Perm()), ModTime: o.created, Format: tar.FormatPAX}
		switch {
		case fi.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case fi.Mode().IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		default:
			return nil // sockets, devices: not part of a Go installation
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			return copyFile(tw, p, hdr.Size)
		}
		return nil
	})
}

// parents returns the directories above p, outermost first ("usr",
// "usr/local" for "usr/local/go").
func parents(p string) []string {
	var ds []string
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		ds = append([]string{d}, ds...)
	}
	return ds
}

func copyFile(w io.Writer, file string, size int64) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size))
	if err != nil {
		return fmt.Errorf("copying %s: %w", file, err)
	}
	if n != size {
		return fmt.Errorf("copying %s: file changed size while being read", file)
	}
	return nil
}
