package layer

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one entry of a layer.
type File struct {
	// Name is the slash path of the file below the layer's directory (see
	// [WithDir]) and below the root directory given to [New], where its
	// bytes are read from.
	Name string
	// Dir says that the entry is a directory.
	Dir bool
	// Mode holds the permission bits of the entry.
	Mode fs.FileMode
	// Size is the size of a file: reading another number of bytes from it
	// fails the layer.
	Size int64
	// ModTime is the modification time of the entry; zero means the epoch
	// (see [WithEpoch]).
	ModTime time.Time
}

// A Checker sees the bytes of a layer's files as they are written, and can
// fail the layer: each pass over the files gets a new one (see [WithCheck]).
// i is the index of the file in the list given to [New]; directories are
// not shown.
type Checker interface {
	// Begin returns where the bytes of file i go besides the tar, or nil.
	Begin(i int) (io.Writer, error)
	// End is called when file i is written whole.
	End(i int) error
	// Close is called after the last file.
	Close() error
}

// New returns the layer holding files, read from below root, in the order
// given (callers sort them by name): every entry owned by uid and gid 0
// with the mode and time of its File, the directories of [WithDir] first.
// Nothing is read until a method of the layer needs it. The first call of
// Digest, DiffID or Size writes the tar once, hashing it for the diff ID
// and compressing it for the digest, into the spool file if there is one;
// Compressed reads that file, or else compresses anew, and Uncompressed
// writes the tar anew. The bytes depend only on the files and the options.
func New(root string, files []File, opts ...Option) (v1.Layer, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	o.finish()
	return &fileLayer{root: root, files: files, opts: o}, nil
}

// fileLayer is a v1.Layer streamed from files.
type fileLayer struct {
	root  string
	files []File
	opts  options

	once   sync.Once
	digest v1.Hash
	diffID v1.Hash
	size   int64
	spool  string // the file holding the compressed bytes, if any
	err    error
}

var _ v1.Layer = (*fileLayer)(nil)

// writeTar writes the layer's tar stream to w.
func (l *fileLayer) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	epoch := l.opts.epoch
	prefix := ""
	if l.opts.dir != "" {
		var dirs []string
		for d := l.opts.dir; d != "."; d = path.Dir(d) {
			dirs = append(dirs, d)
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dirs[i] + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		}
		prefix = l.opts.dir + "/"
	}
	var check Checker
	if l.opts.check != nil {
		check = l.opts.check()
	}
	buf := make([]byte, 256<<10)
	var both tee
	for i, f := range l.files {
		h := &tar.Header{Name: prefix + f.Name, Mode: int64(f.Mode.Perm()), ModTime: f.ModTime}
		if h.ModTime.IsZero() {
			h.ModTime = epoch
		}
		if f.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = f.Size
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if f.Dir {
			continue
		}
		var w io.Writer = tw
		if check != nil {
			cw, err := check.Begin(i)
			if err != nil {
				return err
			}
			if cw != nil {
				both = tee{tw, cw}
				w = &both
			}
		}
		if err := l.copyFile(w, filepath.Join(l.root, filepath.FromSlash(f.Name)), f.Size, buf); err != nil {
			return err
		}
		if check != nil {
			if err := check.End(i); err != nil {
				return err
			}
		}
	}
	if check != nil {
		if err := check.Close(); err != nil {
			return err
		}
	}
	return tw.Close()
}

// tee is io.MultiWriter of two writers without an allocation per file.
type tee struct{ a, b io.Writer }

func (t *tee) Write(p []byte) (int, error) {
	n, err := t.a.Write(p)
	if err != nil {
		return n, err
	}
	if _, err := t.b.Write(p); err != nil {
		return n, err
	}
	return n, nil
}

func (l *fileLayer) copyFile(w io.Writer, name string, size int64, buf []byte) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("packing %s: %w", l.opts.source, err)
	}
	defer f.Close()
	n, err := io.CopyBuffer(onlyWriter{w}, io.LimitReader(f, size+1), buf)
	if err != nil {
		return fmt.Errorf("packing %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("packing %s: file changed size while packing (%d bytes, was %d)", name, n, size)
	}
	return nil
}

// onlyWriter hides io.ReaderFrom, so io.CopyBuffer uses the buffer it is
// given rather than allocating one per file.
type onlyWriter struct{ io.Writer }

func (l *fileLayer) compute() error {
	l.once.Do(func() {
		dh, uh := sha256.New(), sha256.New()
		cnt := &counter{w: dh}
		var spool *os.File
		if l.opts.spoolDir != "" {
			f, err := os.CreateTemp(l.opts.spoolDir, "layer-*.spool")
			if err != nil {
				l.err = fmt.Errorf("spooling layer: %w", err)
				return
			}
			spool = f
			cnt.w = io.MultiWriter(dh, f)
		}
		err := l.compress(cnt, uh)
		if spool != nil {
			if cerr := spool.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(spool.Name())
			} else {
				l.spool = spool.Name()
			}
		}
		if err != nil {
			l.err = err
			return
		}
		l.digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", dh.Sum(nil))}
		l.diffID = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", uh.Sum(nil))}
		l.size = cnt.n
	})
	return l.err
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Digest returns the sha256 of the compressed layer.
func (l *fileLayer) Digest() (v1.Hash, error) { return l.digest, l.compute() }

// DiffID returns the sha256 of the uncompressed layer.
func (l *fileLayer) DiffID() (v1.Hash, error) { return l.diffID, l.compute() }

// Size returns the size of the compressed layer.
func (l *fileLayer) Size() (int64, error) { return l.size, l.compute() }

// Compressed streams the compressed layer: from the spool file once the
// digests are computed with a spool directory, else by compressing anew.
func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	if l.opts.spoolDir != "" {
		if err := l.compute(); err != nil {
			return nil, err
		}
		return os.Open(l.spool)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(l.compress(pw, nil)) }()
	return pr, nil
}

// Uncompressed streams the layer's tar.
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(l.writeTar(pw)) }()
	return pr, nil
}

// MediaType returns the OCI layer media type of the compression.
func (l *fileLayer) MediaType() (types.MediaType, error) {
	if l.opts.compression == compression.ZStd {
		return types.OCILayerZStd, nil
	}
	return types.OCILayer, nil
}
