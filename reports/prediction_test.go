package reports

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestPredictionText pins the text of analyze --base: a first miss, and
// every layer reused without a download step.
func TestPredictionText(t *testing.T) {
	allHit := &Prediction{Base: "HEAD", Head: "work tree", Stages: []PredictedStage{{Stage: "0", Line: 1, Steps: []PredictedStep{
		{Index: 1, Kind: "FROM", Line: 1, Text: "FROM scratch", Cache: "HIT"},
		{Index: 2, Kind: "COPY", Line: 2, Text: "COPY a b", Cache: "HIT", Reason: "a reason a hit does not show"},
	}}}}
	for _, tc := range []struct {
		name string
		doc  *Prediction
	}{
		{"prediction", sampleReport().Dockerfile.Prediction},
		{"prediction-hit", allHit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, Text, tc.doc); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", tc.name+".text.golden"), buf.Bytes())
		})
	}
}

// TestReportPrediction checks that the prediction inside a report's JSON
// is a document of its own: Read takes it out and it renders as the
// original does.
func TestReportPrediction(t *testing.T) {
	var js bytes.Buffer
	if err := Write(&js, JSON, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Dockerfile struct {
			Prediction json.RawMessage `json:"prediction"`
		} `json:"dockerfile"`
	}
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	d, err := Read(bytes.NewReader(rep.Dockerfile.Prediction))
	if err != nil {
		t.Fatal(err)
	}
	var got, want bytes.Buffer
	if err := Write(&got, Text, d); err != nil {
		t.Fatal(err)
	}
	if err := Write(&want, Text, sampleReport().Dockerfile.Prediction); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("the report's prediction renders as\n%s\nwant\n%s", got.String(), want.String())
	}
}
