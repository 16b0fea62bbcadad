package warm_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cachecheck/cachecheck/cachekey"
	"github.com/cachecheck/cachecheck/internal/depsimage"
	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/cachecheck/cachecheck/internal/warm"
	"github.com/google/go-containerregistry/pkg/registry"
	"golang.org/x/mod/module"
)

// keyOfModule is keyOf for a module of the given path.
func keyOfModule(t *testing.T, path string, mods ...string) *cachekey.Result {
	t.Helper()
	var gomod, gosum strings.Builder
	fmt.Fprintf(&gomod, "module %s\n\ngo 1.22\n", path)
	for i, m := range mods {
		p, v, _ := strings.Cut(m, "@")
		fmt.Fprintf(&gomod, "require %s %s\n", p, v)
		h := fmt.Sprintf("h1:%043d=", i)
		fmt.Fprintf(&gosum, "%s %s %s\n%s %s/go.mod %s\n", p, v, h, p, v, h)
	}
	res, err := cachekey.Compute(fstest.MapFS{
		"m/go.mod": {Data: []byte(gomod.String())},
		"m/go.sum": {Data: []byte(gosum.String())},
	}, "m")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// publishSized writes a deps image of key for main holding mods, padded
// by an annotation of pad bytes so that images differ in size.
func publishSized(t *testing.T, target publish.Target, tag publish.Tag, key *cachekey.Result, main string, pad int, mods ...string) int64 {
	t.Helper()
	md := depsimage.Metadata{Key: key.Key, InputsDigest: depsimage.InputsDigest(key.Inputs), Contents: depsimage.DefaultContents, MainModules: []string{main}}
	for _, m := range mods {
		p, v, _ := strings.Cut(m, "@")
		md.Modules = append(md.Modules, module.Version{Path: p, Version: v})
	}
	md.Modules = append(md.Modules, module.Version{Path: "example.com/pad/" + strings.Repeat("p", pad), Version: "v1.0.0"})
	img, err := depsimage.Image(nil, nil, md)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Write(context.Background(), tag.String(), img); err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(raw)) + m.Config.Size
}

// TestPublishedSizes weighs units by their last published image: of the
// images of the same main modules and contents, the one sharing the most
// modules; never an image of a key being warmed, which another job of the
// matrix may be publishing.
func TestPublishedSizes(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	target, err := publish.ParseTarget(strings.TrimPrefix(srv.URL, "http://")+"/deps", publish.WithInsecure(true))
	if err != nil {
		t.Fatal(err)
	}
	tagOf := func(k *cachekey.Result, contents string) publish.Tag { return publish.NewTag(k.Key, nil, contents) }

	api := keyOfModule(t, "example.com/api", "a.com/x@v1.1.0", "a.com/y@v1.0.0", "a.com/z@v1.0.0")
	apiOld := keyOfModule(t, "example.com/api", "a.com/x@v1.0.0", "a.com/y@v1.0.0", "a.com/z@v1.0.0")
	apiOlder := keyOfModule(t, "example.com/api", "a.com/x@v0.9.0")
	web := keyOfModule(t, "example.com/web", "a.com/y@v1.0.0")
	tools := keyOfModule(t, "example.com/tools", "a.com/x@v1.0.0", "a.com/q@v1.0.0", "a.com/r@v1.0.0", "a.com/s@v1.0.0")

	oldSize := publishSized(t, target, tagOf(apiOld, "full"), apiOld, "example.com/api", 100, "a.com/x@v1.0.0", "a.com/y@v1.0.0", "a.com/z@v1.0.0")
	publishSized(t, target, tagOf(apiOlder, "full"), apiOlder, "example.com/api", 900, "a.com/x@v0.9.0")
	// Zips of the same: another contents, not weighed for full.
	publishSized(t, target, tagOf(apiOld, "zips"), apiOld, "example.com/api", 5000, "a.com/x@v1.0.0", "a.com/y@v1.0.0", "a.com/z@v1.0.0")
	// The current key of web, published by another shard meanwhile.
	publishSized(t, target, tagOf(web, "full"), web, "example.com/web", 50, "a.com/y@v1.0.0")

	units := []warm.SizeOf{{Key: api, Tag: tagOf(api, "full")}, {Key: web, Tag: tagOf(web, "full")}, {Key: tools, Tag: tagOf(tools, "full")}}
	sizes, err := warm.PublishedSizes(context.Background(), target, units)
	if err != nil {
		t.Fatal(err)
	}
	if sizes[0].Tag != tagOf(apiOld, "full").String() || sizes[0].Bytes != oldSize {
		t.Errorf("api: %+v; want %s of %d bytes, the image sharing 2 of its 3 modules", sizes[0], tagOf(apiOld, "full"), oldSize)
	}
	if sizes[1].Bytes != 0 || sizes[2].Bytes != 0 {
		t.Errorf("web %+v, tools %+v: want nothing (web's only image has its current key)", sizes[1], sizes[2])
	}
	w, perModule := warm.Weights(units, sizes)
	if perModule != float64(oldSize)/3 || w[0] != float64(oldSize) || w[1] != perModule || w[2] != 4*perModule {
		t.Errorf("weights %v, %v per module; want %d, then 1 and 4 modules at %v", w, perModule, oldSize, float64(oldSize)/3)
	}
}
