package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cachecheck/cachecheck/analyzer"
	"github.com/cachecheck/cachecheck/internal/gitfs"
	"github.com/cachecheck/cachecheck/reports"
)

// predictSide is one side of a prediction: a git revision or a directory.
type predictSide struct {
	name string
	fsys fs.FS
}

// openSide opens --base or --head: a directory when spec names one, else a
// git revision of the repository holding the context dir, restricted to
// the context's subtree. An empty spec is the work tree itself.
func openSide(ctx context.Context, flag, spec, dir string) (predictSide, error) {
	if spec == "" {
		return predictSide{name: "work tree", fsys: os.DirFS(dir)}, nil
	}
	if fi, err := os.Stat(spec); err == nil && fi.IsDir() {
		return predictSide{name: spec, fsys: os.DirFS(spec)}, nil
	}
	g, err := openRevision(ctx, dir, flag, spec)
	if err != nil {
		return predictSide{}, err
	}
	prefix, err := gitfs.Prefix(ctx, dir)
	if err != nil {
		return predictSide{}, err
	}
	sub, err := g.Sub(prefix)
	if err != nil {
		return predictSide{}, err
	}
	return predictSide{name: spec, fsys: sub}, nil
}

// runPredict is analyze --base: it loads the Dockerfile and context of
// both sides and prints the predicted layer-cache hits and misses.
func (o *analyzeOptions) runPredict(ctx context.Context, w io.Writer, dir string, buildArgs map[string]string) error {
	file := "Dockerfile"
	if o.file != "" {
		absDir, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		absFile, err := filepath.Abs(o.file)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(absDir, absFile)
		if err != nil || !filepath.IsLocal(rel) {
			return usageErrorf("analyze: with --base, --file must be inside the build context %q", dir)
		}
		file = filepath.ToSlash(rel)
	}
	var builds [2]*analyzer.Build
	var names [2]string
	for i, side := range []struct{ flag, spec string }{{"--base", o.base}, {"--head", o.head}} {
		s, err := openSide(ctx, side.flag, side.spec, dir)
		if err != nil {
			return err
		}
		b, err := analyzer.Load(s.fsys, analyzer.WithDockerfile(nil, file),
			analyzer.WithDisplayName(s.name+":"+file), analyzer.WithBuildArgs(buildArgs))
		if err != nil {
			return fmt.Errorf("%s %s: %w", side.flag, s.name, err)
		}
		builds[i], names[i] = b, s.name
	}
	var popts []analyzer.PredictOption
	if o.classic {
		popts = append(popts, analyzer.WithClassicDockerBuilder())
	}
	p, err := analyzer.Predict(builds[0], builds[1], popts...)
	if err != nil {
		return err
	}
	format := reports.Text // as before, --format sarif prints the text too
	if o.format.String() == "json" {
		format = reports.JSON
	}
	return reports.Write(w, format, predictionDoc(names, p))
}

// predictionDoc is the document of a prediction, for analyze --base and
// the Dockerfile section of report: names are base's and head's.
func predictionDoc(names [2]string, p *analyzer.Prediction) *reports.Prediction {
	doc := &reports.Prediction{Base: names[0], Head: names[1], Stages: []reports.PredictedStage{}}
	if reused, found := p.ModuleDownloadReused(); found {
		doc.ModuleDownloadReused = &reused
	}
	for _, st := range p.Stages {
		ps := reports.PredictedStage{Stage: st.Stage, Line: st.Line}
		for _, s := range st.Steps {
			ps.Steps = append(ps.Steps, reports.PredictedStep{
				Index: s.Index, Kind: s.Kind, Line: s.Line, Text: s.Text, Cache: reports.CacheWord(s.Hit),
				Reason: s.Reason, Changed: s.Changed, ChangedCount: s.ChangedCount, ModuleDownload: s.ModuleDownload,
			})
		}
		if fm := st.FirstMiss(); fm != nil && doc.FirstMiss == nil {
			doc.FirstMiss = &reports.StepRef{Stage: st.Stage, Line: fm.Line, Reason: fm.Reason}
		}
		doc.Stages = append(doc.Stages, ps)
	}
	return doc
}
