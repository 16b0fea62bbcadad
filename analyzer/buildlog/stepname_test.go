package buildlog

import "testing"

// TestStepNamePadded checks the step names BuildKit pads in a stage of ten
// steps or more: "[build  2/10]".
func TestStepNamePadded(t *testing.T) {
	for _, tc := range []struct{ in, stage, index, total, rest string }{
		{"[build  2/10] RUN go mod download", "build", "2", "10", "RUN go mod download"},
		{"[stage-0 10/10] RUN go build .", "stage-0", "10", "10", "RUN go build ."},
		{"[ 3/12] COPY . .", "", "3", "12", "COPY . ."},
		{"[2/3] COPY . .", "", "2", "3", "COPY . ."},
	} {
		m := stepName.FindStringSubmatch(tc.in)
		if m == nil || m[1] != tc.stage || m[2] != tc.index || m[3] != tc.total || m[4] != tc.rest {
			t.Errorf("%q: got %q", tc.in, m)
		}
	}
}
