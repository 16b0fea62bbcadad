package warm

import (
	"errors"
	"strings"
	"testing"

	"github.com/cachecheck/cachecheck/internal/goenv"
	"github.com/cachecheck/cachecheck/internal/modload"
)

func TestWithPrivateHint(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		hint string // "" for none
	}{
		{"private module named", &modload.DownloadError{Modules: []modload.ModuleError{{Path: "corp.example/p", Version: "v1.0.0", Err: "410 Gone"}}, GoEnv: &goenv.Env{GONOPROXY: "corp.example"}}, `corp.example/p@v1.0.0: private (GOPRIVATE/GONOPROXY "corp.example")`},
		{"private module on stderr", &modload.DownloadError{Stderr: "go: corp.example/p@v1.0.0: reading: 404", GoEnv: &goenv.Env{GONOPROXY: "corp.example"}}, "corp.example/p@v1.0.0: private"},
		{"public module", &modload.DownloadError{Modules: []modload.ModuleError{{Path: "example.com/a", Version: "v1.0.0", Err: "410 Gone"}}, GoEnv: &goenv.Env{GONOPROXY: "corp.example"}}, ""},
		{"no settings", &modload.DownloadError{Modules: []modload.ModuleError{{Path: "corp.example/p", Version: "v1.0.0", Err: "410 Gone"}}}, ""},
		{"not a download error", errors.New("disk full"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := withPrivateHint(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("withPrivateHint(%v) = %v, which does not wrap it", tc.err, got)
			}
			switch {
			case tc.hint == "" && got.Error() != tc.err.Error():
				t.Errorf("withPrivateHint = %q, want the error unchanged", got)
			case tc.hint != "" && !strings.Contains(got.Error(), tc.hint):
				t.Errorf("withPrivateHint = %q, want it to say %q", got, tc.hint)
			}
		})
	}
}
