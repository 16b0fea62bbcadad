package analyzer

import "testing"

func TestGitUse(t *testing.T) {
	for _, tc := range []struct{ script, want string }{
		{`go build -ldflags "-X main.v=$(git describe --tags)" .`, "git describe"},
		{"VERSION=`git rev-parse --short HEAD` && go build .", "git rev-parse"},
		{"git -C /src log -1 --format=%cd > /date", "git log"},
		{"go build -buildvcs=true ./cmd/app", "-buildvcs=true"},
		{"go build -buildvcs ./cmd/app", "-buildvcs=true"},
		{"go build -buildvcs=false ./cmd/app", ""},
		{"go build -buildvcs=auto .", ""},
		{`git config --global url."https://x@github.com/".insteadOf "https://github.com/"`, ""},
		{"git clone https://example.com/r.git /r && cd /r && make", ""},
		{"go build -o /app .", ""},
		{"gitleaks detect", ""},
		{`if [ -n "$V" ]; then git checkout "$V"; fi && make build`, "git checkout"},
		{`go build -ldflags "-X main.v=$(shell git describe --tags --always)"`, "git describe"},
	} {
		if got := GitUse(tc.script); got != tc.want {
			t.Errorf("GitUse(%q) = %q, want %q", tc.script, got, tc.want)
		}
	}
}
