package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachecheck/cachecheck/internal/modload/modloadtest"
	"github.com/cachecheck/cachecheck/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// buildBinary builds cachecheck into a test directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cachecheck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// warmer runs the cachecheck binary on a module against a local proxy,
// with its own TMPDIR, and a marker in the environment that every child of
// it inherits, to find them under /proc.
type warmer struct {
	bin, app, tmp, oci, marker string
	env                        []string
}

// newWarmer builds cachecheck and a module whose modules come from a local
// proxy over HTTP that answers each request after delay: with a delay, the
// go command runs long enough that one outliving cachecheck is seen.
func newWarmer(t *testing.T, delay time.Duration) *warmer {
	bin := buildBinary(t)
	f := modloadtest.NewFixture(t, "v1.0.0")
	files := http.FileServer(http.Dir(f.Proxy.Dir))
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		files.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	w := &warmer{bin: bin, app: f.App, tmp: t.TempDir(), oci: filepath.Join(t.TempDir(), "oci")}
	w.marker = fmt.Sprintf("CACHECHECK_SIGNAL_TEST=%d-%d", os.Getpid(), time.Now().UnixNano())
	w.env = append(f.Env, "GOPROXY="+srv.URL, "TMPDIR="+w.tmp, w.marker)
	return w
}

func (w *warmer) command(args ...string) *exec.Cmd {
	cmd := exec.Command(w.bin, args...)
	cmd.Dir = w.app
	cmd.Env = w.env
	return cmd
}

// run runs cachecheck to the end and returns its stdout and stderr.
func (w *warmer) run(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := w.command(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("cachecheck %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// orphans returns the live processes that carry the marker: children of a
// cachecheck that is gone.
func (w *warmer) orphans() []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		env, err := os.ReadFile("/proc/" + pid + "/environ")
		if err != nil || !bytes.Contains(env, []byte("\x00"+w.marker+"\x00")) && !bytes.HasPrefix(env, []byte(w.marker+"\x00")) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i < 0 || len(s) < i+3 || s[i+2] == 'Z' {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		out = append(out, pid+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return out
}

// waitNoOrphans waits a little (the kernel kills them as cachecheck exits,
// the process table catches up) until no process carries the marker: much
// less than what a go command outliving cachecheck still has to do.
func (w *warmer) waitNoOrphans(t *testing.T, what string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = w.orphans(); len(left) == 0 {
			return
		}
	}
	for _, p := range left {
		var pid int
		fmt.Sscan(p, &pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	t.Errorf("%s: processes outlived cachecheck: %q", what, left)
}

// tempDirs returns the cachecheck-* entries of TMPDIR.
func (w *warmer) tempDirs() []string {
	var out []string
	entries, _ := os.ReadDir(w.tmp)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "cachecheck-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func (w *warmer) clearTemp() {
	for _, n := range w.tempDirs() {
		modloadtest.RemoveAll(filepath.Join(w.tmp, n))
	}
}

// checkLayout checks that the OCI layout at dir is valid: index.json (when
// there is one) parses, and every blob reachable from it exists with the
// size and digest its descriptor gives. It returns the reachable blobs.
func checkLayout(t *testing.T, dir string) map[string]bool {
	t.Helper()
	reachable := map[string]bool{}
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if os.IsNotExist(err) {
		return reachable
	}
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(data, &im); err != nil {
		t.Fatalf("index.json does not parse: %v\n%s", err, data)
	}
	var walk func(d v1.Descriptor)
	walk = func(d v1.Descriptor) {
		reachable[d.Digest.Hex] = true
		blob, err := os.ReadFile(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex))
		if err != nil {
			t.Errorf("blob %s: %v", d.Digest, err)
			return
		}
		sum := sha256.Sum256(blob)
		if int64(len(blob)) != d.Size || hex.EncodeToString(sum[:]) != d.Digest.Hex {
			t.Errorf("blob %s: %d bytes with digest %x, want %d bytes", d.Digest, len(blob), sum, d.Size)
			return
		}
		switch {
		case d.MediaType.IsIndex():
			idx, err := v1.ParseIndexManifest(bytes.NewReader(blob))
			if err != nil {
				t.Errorf("index %s: %v", d.Digest, err)
				return
			}
			for _, c := range idx.Manifests {
				walk(c)
			}
		case d.MediaType.IsImage():
			m, err := v1.ParseManifest(bytes.NewReader(blob))
			if err != nil {
				t.Errorf("manifest %s: %v", d.Digest, err)
				return
			}
			walk(m.Config)
			for _, l := range m.Layers {
				walk(l)
			}
		}
	}
	for _, d := range im.Manifests {
		walk(d)
	}
	return reachable
}

// TestSignals interrupts (SIGINT) and kills (SIGKILL) warm --force at
// random points, seeded, spread over the duration of a whole run, with
// checks after each: the layout is valid, no child of warm lives on, and
// after SIGINT no cachecheck-* directory is left in TMPDIR. Then a warm
// succeeds, and prune --gc leaves a clean layout.
func TestSignals(t *testing.T) {
	testenv.SkipIfShort(t, "40 warm runs cut short by signals")
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	const kills = 20 // of each signal
	w := newWarmer(t, 150*time.Millisecond)
	to := "oci:" + w.oci

	start := time.Now()
	w.run(t, "warm", "-q", "--to", to)
	full := time.Since(start)
	w.waitNoOrphans(t, "a complete warm")
	if left := w.tempDirs(); len(left) > 0 {
		t.Fatalf("a complete warm left %q in TMPDIR", left)
	}
	t.Logf("a whole warm takes %v", full)

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CACHECHECK_SIGNAL_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set CACHECHECK_SIGNAL_SEED to repeat)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var sigs []syscall.Signal
	for i := 0; i < kills; i++ {
		sigs = append(sigs, syscall.SIGINT, syscall.SIGKILL)
	}
	rng.Shuffle(len(sigs), func(i, j int) { sigs[i], sigs[j] = sigs[j], sigs[i] })
	interrupted := 0
	for i, sig := range sigs {
		w.clearTemp()
		after := time.Duration(rng.Int64N(int64(full + full/5)))
		what := fmt.Sprintf("run %d: %v after %v", i, sig, after.Round(time.Millisecond))
		var stderr bytes.Buffer
		cmd := w.command("warm", "-q", "--force", "--to", to)
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		cmd.Process.Signal(sig)
		err := cmd.Wait()
		if err != nil {
			interrupted++
		}
		w.waitNoOrphans(t, what)
		checkLayout(t, w.oci)
		if sig == syscall.SIGINT {
			if left := w.tempDirs(); len(left) > 0 {
				t.Errorf("%s: left %q in TMPDIR (%v)\n%s", what, left, err, stderr.String())
			}
		}
		if t.Failed() {
			t.Fatalf("%s failed the checks; stderr:\n%s", what, stderr.String())
		}
	}
	t.Logf("%d of %d runs ended by their signal", interrupted, len(sigs))
	if interrupted < len(sigs)/2 {
		t.Errorf("only %d of %d runs were cut short: the kill times miss the run", interrupted, len(sigs))
	}

	// A warm after all that succeeds, and the garbage goes.
	w.clearTemp()
	w.run(t, "warm", "-q", "--to", to)
	w.run(t, "prune", "--to", to, "--gc", "--older-than", "0s")
	reachable := checkLayout(t, w.oci)
	err := filepath.WalkDir(w.oci, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		switch {
		case strings.HasPrefix(name, ".tmp-"):
			t.Errorf("temporary file %s left after prune --gc", p)
		case filepath.Base(filepath.Dir(p)) == "sha256" && !reachable[name]:
			t.Errorf("blob %s used by no tag after prune --gc", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := w.run(t, "warm", "--to", to)
	if !strings.HasPrefix(out, "hit: ") {
		t.Errorf("warm after prune --gc:\n%s\nwant a hit", out)
	}
}

// TestWarmRepairsLayout deletes blobs of a published tag: warm rebuilds it
// rather than report a hit, ref prints no image with missing blobs, and
// --force rebuilds a tag whose manifest is gone.
func TestWarmRepairsLayout(t *testing.T) {
	w := newWarmer(t, 0)
	to := "oci:" + w.oci
	w.run(t, "warm", "-q", "--to", to)
	var im v1.IndexManifest
	data, err := os.ReadFile(filepath.Join(w.oci, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &im); err != nil {
		t.Fatal(err)
	}
	var desc v1.Descriptor
	for _, d := range im.Manifests {
		if !strings.HasSuffix(d.Annotations["org.opencontainers.image.ref.name"], ".stamp") {
			desc = d
		}
	}
	blob := func(h v1.Hash) string { return filepath.Join(w.oci, "blobs", h.Algorithm, h.Hex) }
	raw, err := os.ReadFile(blob(desc.Digest))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}

	// A layer deleted: ref finds no image, warm rebuilds it.
	if err := os.Remove(blob(m.Layers[0].Digest)); err != nil {
		t.Fatal(err)
	}
	cmd := w.command("ref", "--to", to)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil || stdout.Len() > 0 {
		t.Errorf("ref with a layer missing: %v, printed %q; want an error and no reference", err, stdout.String())
	}
	if !strings.Contains(stderr.String(), "incomplete") || !strings.Contains(stderr.String(), m.Layers[0].Digest.String()) {
		t.Errorf("ref stderr does not name the missing layer:\n%s", stderr.String())
	}
	out, errOut := w.run(t, "warm", "--to", to)
	if !strings.HasPrefix(out, "published ") || !strings.Contains(errOut, "building it again") {
		t.Errorf("warm with a layer missing:\n%s\n%s\nwant a rebuild that says why", out, errOut)
	}
	checkLayout(t, w.oci)
	w.run(t, "ref", "--to", to)

	// The manifest deleted: --force rebuilds it.
	if err := os.Remove(blob(desc.Digest)); err != nil {
		t.Fatal(err)
	}
	out, _ = w.run(t, "warm", "--force", "--to", to)
	if !strings.HasPrefix(out, "published ") {
		t.Errorf("warm --force with the manifest missing:\n%s", out)
	}
	checkLayout(t, w.oci)
	if out, _ := w.run(t, "warm", "--to", to); !strings.HasPrefix(out, "hit: ") {
		t.Errorf("warm after the repair:\n%s\nwant a hit", out)
	}
	if left := w.tempDirs(); len(left) > 0 {
		t.Errorf("left %q in TMPDIR", left)
	}
}
