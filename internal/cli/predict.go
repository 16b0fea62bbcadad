package cli

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
	p, err := analyzer.Predict(builds[0], builds[1])
	if err != nil {
		return err
	}
	if o.format.String() == "json" {
		return writeJSON(w, predictionDoc(names, p))
	}
	return renderPrediction(w, names, p)
}

type predictionJSON struct {
	ProtocolVersion      int                    `json:"protocol_version"`
	Base                 string                 `json:"base"`
	Head                 string                 `json:"head"`
	ModuleDownloadReused *bool                  `json:"module_download_reused"`
	Stages               []stagePredictionJSON  `json:"stages"`
	FirstMiss            *stepPredictionJSONRef `json:"first_miss"`
}

type stagePredictionJSON struct {
	Stage string               `json:"stage"`
	Line  int                  `json:"line"`
	Steps []stepPredictionJSON `json:"steps"`
}

type stepPredictionJSON struct {
	Index          int      `json:"index"`
	Kind           string   `json:"kind"`
	Line           int      `json:"line"`
	Text           string   `json:"text"`
	Cache          string   `json:"cache"`
	Reason         string   `json:"reason,omitempty"`
	Changed        []string `json:"changed,omitempty"`
	ChangedCount   int      `json:"changed_count,omitempty"`
	ModuleDownload bool     `json:"module_download,omitempty"`
}

type stepPredictionJSONRef struct {
	Stage  string `json:"stage"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

func cacheWord(hit bool) string {
	if hit {
		return "HIT"
	}
	return "MISS"
}

func predictionDoc(names [2]string, p *analyzer.Prediction) predictionJSON {
	doc := predictionJSON{ProtocolVersion: protocolVersion, Base: names[0], Head: names[1], Stages: []stagePredictionJSON{}}
	if reused, found := p.ModuleDownloadReused(); found {
		doc.ModuleDownloadReused = &reused
	}
	for _, st := range p.Stages {
		sj := stagePredictionJSON{Stage: st.Stage, Line: st.Line}
		for _, s := range st.Steps {
			sj.Steps = append(sj.Steps, stepPredictionJSON{s.Index, s.Kind, s.Line, s.Text, cacheWord(s.Hit), s.Reason, s.Changed, s.ChangedCount, s.ModuleDownload})
		}
		if fm := st.FirstMiss(); fm != nil && doc.FirstMiss == nil {
			doc.FirstMiss = &stepPredictionJSONRef{st.Stage, fm.Line, fm.Reason}
		}
		doc.Stages = append(doc.Stages, sj)
	}
	return doc
}

func renderPrediction(w io.Writer, names [2]string, p *analyzer.Prediction) error {
	fmt.Fprintf(w, "layer cache of %s after building %s (predicted as BuildKit decides):\n", names[1], names[0])
	t := reports.NewTable(w, reports.ColumnWidth{Column: 2, Width: 48}, reports.ColumnWidth{Column: 4, Width: 60})
	t.Header("STAGE", "LINE", "INSTRUCTION", "CACHE", "WHY")
	for _, st := range p.Stages {
		for _, s := range st.Steps {
			why := ""
			if !s.Hit {
				why = s.Reason
			}
			if err := t.Append(st.Stage, strconv.Itoa(s.Line), oneLine(s.Text), cacheWord(s.Hit), why); err != nil {
				return fmt.Errorf("rendering the prediction: %w", err)
			}
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("rendering the prediction: %w", err)
	}
	first := "none: every layer is reused"
	for _, st := range p.Stages {
		if fm := st.FirstMiss(); fm != nil {
			first = fmt.Sprintf("stage %s line %d: %s", st.Stage, fm.Line, fm.Reason)
			break
		}
	}
	fmt.Fprintf(w, "first miss: %s\n", first)
	switch reused, found := p.ModuleDownloadReused(); {
	case !found:
		fmt.Fprintln(w, "module download layer: none (no RUN go mod download)")
	case reused:
		fmt.Fprintln(w, "module download layer: reused")
	default:
		_, err := fmt.Fprintln(w, "module download layer: rebuilt")
		return err
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}
