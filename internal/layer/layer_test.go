package layer_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/layer"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// tree writes files below a new directory: name -> content; a name ending
// in "/" is a directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

var (
	long    = strings.Repeat("long/", 30) + "file"
	content = map[string]string{
		"a/":      "",
		"a/x.txt": "x\n",
		"a/y.sh":  "#!/bin/sh\n",
		"b/":      "",
		"b/big":   strings.Repeat("0123456789abcdef", 1<<17), // 2 MiB: more than a chunk
		long:      "far down\n",
		"README":  "readme\n",
		"empty":   "",
	}
	keep = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// files lists content in the order New wants.
func files() []layer.File {
	var fs []layer.File
	fs = append(fs,
		layer.File{Name: "README", Mode: 0o644, Size: 7},
		layer.File{Name: "a", Dir: true, Mode: 0o555},
		layer.File{Name: "a/x.txt", Mode: 0o444, Size: 2, ModTime: keep},
		layer.File{Name: "a/y.sh", Mode: 0o755, Size: 10},
		layer.File{Name: "b", Dir: true, Mode: 0o755},
		layer.File{Name: "b/big", Mode: 0o644, Size: 1 << 21},
		layer.File{Name: "empty", Mode: 0o644},
		layer.File{Name: long, Mode: 0o644, Size: 9},
	)
	return fs
}

type hdr struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	uname    string
	mtime    time.Time
	size     int64
	sum      [32]byte
}

func readTar(t *testing.T, r io.Reader) []hdr {
	t.Helper()
	var hs []hdr
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, hdr{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.ModTime.UTC(), h.Size, sha256.Sum256(data)})
	}
}

func sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// TestTar reads the tar a layer writes: the directories of WithDir first,
// then the files in the order given, owned by root, with their modes and
// sizes and the epoch unless they have their own time.
func TestTar(t *testing.T) {
	root := tree(t, content)
	epoch := time.Unix(1700000000, 0).UTC()
	entries := func(prefix string) []hdr {
		return []hdr{
			{name: prefix + "README", typ: tar.TypeReg, mode: 0o644, mtime: epoch, size: 7, sum: sum("readme\n")},
			{name: prefix + "a/", typ: tar.TypeDir, mode: 0o555, mtime: epoch, sum: sum("")},
			{name: prefix + "a/x.txt", typ: tar.TypeReg, mode: 0o444, mtime: keep, size: 2, sum: sum("x\n")},
			{name: prefix + "a/y.sh", typ: tar.TypeReg, mode: 0o755, mtime: epoch, size: 10, sum: sum("#!/bin/sh\n")},
			{name: prefix + "b/", typ: tar.TypeDir, mode: 0o755, mtime: epoch, sum: sum("")},
			{name: prefix + "b/big", typ: tar.TypeReg, mode: 0o644, mtime: epoch, size: 1 << 21, sum: sum(content["b/big"])},
			{name: prefix + "empty", typ: tar.TypeReg, mode: 0o644, mtime: epoch, sum: sum("")},
			{name: prefix + long, typ: tar.TypeReg, mode: 0o644, mtime: epoch, size: 9, sum: sum("far down\n")},
		}
	}
	dir := func(name string) hdr {
		return hdr{name: name, typ: tar.TypeDir, mode: 0o755, mtime: epoch, sum: sum("")}
	}
	for _, tc := range []struct {
		name string
		opts []layer.Option
		want []hdr
	}{
		{"at the root", nil, entries("")},
		{"in a directory", []layer.Option{layer.WithDir("go/pkg/mod")}, append([]hdr{dir("go/"), dir("go/pkg/"), dir("go/pkg/mod/")}, entries("go/pkg/mod/")...)},
		{"zstd, tarball compression", []layer.Option{layer.WithDir("c"), layer.WithCompression(compression.ZStd), layer.WithTarballCompression()}, append([]hdr{dir("c/")}, entries("c/")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := layer.New(root, files(), append(tc.opts, layer.WithEpoch(epoch))...)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got := readTar(t, rc)
			if len(got) != len(tc.want) {
				t.Fatalf("%d entries, want %d: %v", len(got), len(tc.want), got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// decompress returns the tar in a compressed layer.
func decompress(t *testing.T, mt types.MediaType, data []byte) []byte {
	t.Helper()
	var r io.Reader
	switch mt {
	case types.OCILayer:
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		r = gr
	case types.OCILayerZStd:
		zr, err := zstd.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("media type %s", mt)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func hashOf(data []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(data))}
}

// counting counts in n the passes over the files of a layer.
func counting(n *int) layer.Option {
	return layer.WithCheck(func() layer.Checker { *n++; return nopChecker{} })
}

type nopChecker struct{}

func (nopChecker) Begin(int) (io.Writer, error) { return nil, nil }
func (nopChecker) End(int) error                { return nil }
func (nopChecker) Close() error                 { return nil }

// TestDigests: the digest, diff ID and size are those of the bytes
// Compressed and Uncompressed return, which decompress to the same tar,
// whatever the concurrency, with or without a spool directory, and the
// same for the same files; the spool packs the files once (as publish's
// Spool did) however often the layer is read.
func TestDigests(t *testing.T) {
	root := tree(t, content)
	for _, tc := range []struct {
		name string
		opts []layer.Option
		mt   types.MediaType
	}{
		{"gzip", nil, types.OCILayer},
		{"gzip level 1", []layer.Option{layer.WithLevel(1)}, types.OCILayer},
		{"zstd", []layer.Option{layer.WithCompression(compression.ZStd)}, types.OCILayerZStd},
		{"zstd level 9", []layer.Option{layer.WithCompression(compression.ZStd), layer.WithLevel(9)}, types.OCILayerZStd},
		{"gzip tarball", []layer.Option{layer.WithTarballCompression()}, types.OCILayer},
		{"zstd tarball", []layer.Option{layer.WithCompression(compression.ZStd), layer.WithTarballCompression()}, types.OCILayerZStd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var digest v1.Hash
			for _, variant := range []struct {
				name string
				opts []layer.Option
			}{
				{"streamed", nil},
				{"concurrency 1", []layer.Option{layer.WithConcurrency(1)}},
				{"concurrency 3", []layer.Option{layer.WithConcurrency(3)}},
				{"spooled", []layer.Option{layer.WithSpoolDir(t.TempDir())}},
			} {
				passes := 0
				l, err := layer.New(root, files(), append(append(variant.opts, tc.opts...), counting(&passes))...)
				if err != nil {
					t.Fatal(err)
				}
				d, err := l.Digest()
				if err != nil {
					t.Fatal(err)
				}
				id, _ := l.DiffID()
				size, _ := l.Size()
				mt, _ := l.MediaType()
				if mt != tc.mt {
					t.Errorf("%s: media type %s, want %s", variant.name, mt, tc.mt)
				}
				compressed := readAll(t, l.Compressed)
				again := readAll(t, l.Compressed)
				if variant.name == "spooled" && passes != 1 {
					t.Errorf("%s: files packed %d times for Digest, DiffID, Size and two reads of Compressed, want once", variant.name, passes)
				}
				if !bytes.Equal(compressed, again) {
					t.Errorf("%s: two reads of Compressed differ", variant.name)
				}
				tarball := readAll(t, l.Uncompressed)
				if got := hashOf(compressed); got != d || int64(len(compressed)) != size {
					t.Errorf("%s: Compressed has digest %s and %d bytes, Digest %s and Size %d", variant.name, got, len(compressed), d, size)
				}
				if got := hashOf(tarball); got != id {
					t.Errorf("%s: Uncompressed has digest %s, DiffID %s", variant.name, got, id)
				}
				if !bytes.Equal(decompress(t, mt, compressed), tarball) {
					t.Errorf("%s: Compressed does not decompress to Uncompressed", variant.name)
				}
				if digest == (v1.Hash{}) {
					digest = d
				} else if d != digest {
					t.Errorf("%s: digest %s, want %s as with the other variants", variant.name, d, digest)
				}
			}
		})
	}
}

// TestTarballCompression: with WithTarballCompression the layer has the
// digest of the one go-containerregistry's tarball.LayerFromOpener makes
// of the same tar with the same compression and level.
func TestTarballCompression(t *testing.T) {
	root := tree(t, content)
	for _, tc := range []struct {
		name  string
		comp  compression.Compression
		level int
	}{
		{"gzip", compression.GZip, 0},
		{"gzip 9", compression.GZip, 9},
		{"zstd", compression.ZStd, 0},
		{"zstd 3", compression.ZStd, 3},
		{"zstd 6", compression.ZStd, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []layer.Option{layer.WithTarballCompression(), layer.WithCompression(tc.comp)}
			topts := []tarball.LayerOption{tarball.WithCompression(tc.comp)}
			if tc.level > 0 {
				opts = append(opts, layer.WithLevel(tc.level))
				topts = append(topts, tarball.WithCompressionLevel(tc.level))
			}
			l, err := layer.New(root, files(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			want, err := tarball.LayerFromOpener(l.Uncompressed, topts...)
			if err != nil {
				t.Fatal(err)
			}
			wd, _ := want.Digest()
			wid, _ := want.DiffID()
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			id, _ := l.DiffID()
			if d != wd || id != wid {
				t.Errorf("digest %s, diff ID %s; tarball.LayerFromOpener: %s, %s", d, id, wd, wid)
			}
		})
	}
}

// recorder records what a Checker sees and fails where told.
type recorder struct {
	got     map[int]*bytes.Buffer
	ended   []int
	closed  bool
	failAt  string // "begin", "end" or "close"
	failIdx int
}

var errCheck = errors.New("check failed")

func (r *recorder) Begin(i int) (io.Writer, error) {
	if r.failAt == "begin" && i == r.failIdx {
		return nil, errCheck
	}
	if i == 0 {
		return nil, nil // not every file needs checking
	}
	r.got[i] = &bytes.Buffer{}
	return r.got[i], nil
}

func (r *recorder) End(i int) error {
	r.ended = append(r.ended, i)
	if r.failAt == "end" && i == r.failIdx {
		return errCheck
	}
	return nil
}

func (r *recorder) Close() error {
	r.closed = true
	if r.failAt == "close" {
		return errCheck
	}
	return nil
}

// TestCheck: a Checker sees every file's bytes, in order, and the layer
// fails with its error; a file that changed size fails the layer too.
func TestCheck(t *testing.T) {
	root := tree(t, content)
	fs := files()
	t.Run("sees the bytes", func(t *testing.T) {
		r := &recorder{got: map[int]*bytes.Buffer{}}
		l, err := layer.New(root, fs, layer.WithCheck(func() layer.Checker { return r }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Digest(); err != nil {
			t.Fatal(err)
		}
		var wantEnded []int
		for i, f := range fs {
			if f.Dir {
				if r.got[i] != nil {
					t.Errorf("directory %s shown to the checker", f.Name)
				}
				continue
			}
			wantEnded = append(wantEnded, i)
			if i == 0 {
				continue
			}
			if got := r.got[i].String(); got != content[f.Name] {
				t.Errorf("checker saw %d bytes of %s, want %d", len(got), f.Name, len(content[f.Name]))
			}
		}
		if fmt.Sprint(r.ended) != fmt.Sprint(wantEnded) || !r.closed {
			t.Errorf("ended %v, closed %v; want %v, true", r.ended, r.closed, wantEnded)
		}
	})
	for _, tc := range []struct {
		failAt string
		idx    int
	}{{"begin", 3}, {"end", 5}, {"close", 0}} {
		t.Run("fails at "+tc.failAt, func(t *testing.T) {
			for _, spool := range []string{"", t.TempDir()} {
				l, err := layer.New(root, fs, layer.WithSpoolDir(spool), layer.WithCheck(func() layer.Checker {
					return &recorder{got: map[int]*bytes.Buffer{}, failAt: tc.failAt, failIdx: tc.idx}
				}))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := l.Digest(); !errors.Is(err, errCheck) {
					t.Errorf("spool %q: Digest: %v, want %v", spool, err, errCheck)
				}
				rc, _ := l.Uncompressed()
				if _, err := io.ReadAll(rc); !errors.Is(err, errCheck) {
					t.Errorf("spool %q: reading Uncompressed: %v, want %v", spool, err, errCheck)
				}
				if spool != "" {
					if left, _ := os.ReadDir(spool); len(left) != 0 {
						t.Errorf("failed layer left %d files in the spool directory", len(left))
					}
				}
			}
		})
	}
	t.Run("changed size", func(t *testing.T) {
		fs := files()
		fs[2].Size = 3
		l, err := layer.New(root, fs, layer.WithSource("test files"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Digest(); err == nil || !strings.Contains(err.Error(), "file changed size while packing (2 bytes, was 3)") {
			t.Errorf("Digest: %v, want the file to have changed size", err)
		}
		fs[2].Name = "a/gone"
		l, _ = layer.New(root, fs, layer.WithSource("test files"))
		if _, err := l.Digest(); err == nil || !strings.HasPrefix(err.Error(), "packing test files: open ") || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Digest: %v, want packing test files: open …: not exist", err)
		}
	})
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  layer.Option
		want string
	}{
		{"compression", layer.WithCompression("lz4"), `compression "lz4": want "gzip" or "zstd"`},
		{"concurrency", layer.WithConcurrency(-1), "concurrency -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := layer.New(t.TempDir(), nil, tc.opt); err == nil || err.Error() != tc.want {
				t.Errorf("New: %v, want %s", err, tc.want)
			}
		})
	}
}

func TestSourceDateEpoch(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want time.Time
		err  string
	}{
		{"", time.Unix(0, 0).UTC(), ""},
		{"1700000000", time.Unix(1700000000, 0).UTC(), ""},
		{"-1", time.Unix(-1, 0).UTC(), ""},
		{"2023-11-14", time.Time{}, `SOURCE_DATE_EPOCH="2023-11-14": want seconds since 1970`},
		{"1.5", time.Time{}, `SOURCE_DATE_EPOCH="1.5": want seconds since 1970`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tc.env)
			got, err := layer.SourceDateEpoch()
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("SourceDateEpoch() = %v, %v; want error %s", got, err, tc.err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("SourceDateEpoch() = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
