package analyzer

import "testing"

func TestFollowScript(t *testing.T) {
	for _, tc := range []followCase{{
		name:       "set -euo pipefail, functions, if, loops",
		dockerfile: buildStage + "RUN ./build.sh release\n",
		files: map[string]string{"build.sh": `#!/bin/bash
set -euo pipefail

export CGO_ENABLED=0
VERSION=${VERSION:-dev}
LDFLAGS="-s -w -X main.version=${VERSION}"

build_one() {
	local os=$1
	GOOS=$os go build -ldflags "$LDFLAGS" -o "bin/app-$os" ./cmd/app
}

if [ ! -d vendor ]; then
	go mod download
fi

for os in linux darwin; do
	GOOS=$os GOARCH=amd64 go build -trimpath -o "bin/$os/app" ./cmd/app
done
build_one linux
`},
		want: []string{
			"go mod download @build.sh:14 via ./build.sh",
			"go build -trimpath -o bin/linux/app ./cmd/app @build.sh:18 via ./build.sh",
			"go build -trimpath -o bin/darwin/app ./cmd/app @build.sh:18 via ./build.sh",
			"go build -ldflags '-s -w -X main.version=dev' -o 'bin/app-$os' ./cmd/app @build.sh:10 via ./build.sh",
		},
		text: []string{"GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 GOPATH=/go go build -trimpath"},
	}, {
		name:       "sh scripts/build.sh with cd and a make call",
		dockerfile: buildStage + "RUN sh scripts/build.sh\n",
		files: map[string]string{
			"scripts/build.sh": "set -e\ncd cmd/server && go build -o /out/server .\ncd /src\nmake -C tools\n",
			"tools/Makefile":   "all:\n\tgo install ./...\n",
		},
		want: []string{
			"go build -o /out/server . @scripts/build.sh:2 via sh scripts/build.sh",
			"go install ./... @tools/Makefile:2 via sh scripts/build.sh → make -C tools",
		},
	}, {
		name:       "bash -c on the RUN line",
		dockerfile: buildStage + "RUN bash -c 'export GOFLAGS=-mod=mod; CGO_ENABLED=0 go build -o /app ./cmd/app'\n",
		want:       []string{"go build -o /app ./cmd/app @ via bash -c"},
		text:       []string{"CGO_ENABLED=0 GOFLAGS=-mod=mod"},
	}, {
		name:       "bash with options, a script and its arguments; source",
		dockerfile: buildStage + "RUN bash -ex build/ci/build.sh linux amd64\n",
		files: map[string]string{
			"build/ci/build.sh": ". build/ci/env.sh\ngo build -o out/app .\n",
			"build/ci/env.sh":   "export GOARCH=arm64\n",
		},
		want: []string{"go build -o out/app . @build/ci/build.sh:2 via bash -ex build/ci/build.sh"},
		text: []string{"GOARCH=arm64"},
	}, {
		name:       "a script run from the WORKDIR it was copied to",
		dockerfile: "FROM golang:1.22\nCOPY go.mod /app/\nCOPY hack/docker-build.sh /usr/local/bin/build\nWORKDIR /app\nRUN /usr/local/bin/build\n",
		files:      map[string]string{"hack/docker-build.sh": "#!/bin/sh\ngo build ./...\n"},
		want:       []string{"go build ./... @hack/docker-build.sh:2 via /usr/local/bin/build"},
	}, {
		name:       "a program installed in the image is not the project's",
		dockerfile: buildStage + "RUN /usr/bin/env true && /usr/local/go/bin/go version\n",
	}, {
		name:       "a missing script",
		dockerfile: buildStage + "RUN ./scripts/build.sh\n",
		opaque:     []string{"./scripts/build.sh: no COPY from the build context puts a file at /src/scripts/build.sh before this RUN"},
	}, {
		name:       "a Python build script",
		dockerfile: buildStage + "RUN ./build.py\n",
		files:      map[string]string{"build.py": "#!/usr/bin/env python3\nimport subprocess\n"},
		opaque:     []string{"./build.py: build.py is a python3 script, which cachecheck does not read"},
	}, {
		name:       "a remote script",
		dockerfile: buildStage + "RUN wget -qO- https://get.example.com/build | bash -s -- --release\n",
		opaque:     []string{"the RUN runs a remote script (wget -qO- https://get.example.com/build | bash)"},
	}, {
		name:       "a build driver",
		dockerfile: buildStage + "RUN ./release.sh\n",
		files:      map[string]string{"release.sh": "#!/bin/sh\ngoreleaser build --snapshot\n"},
		opaque:     []string{"release.sh:2 runs goreleaser, which cachecheck does not read"},
	}, {
		name:       "a script that does not parse",
		dockerfile: buildStage + "RUN ./build.sh\n",
		files:      map[string]string{"build.sh": "#!/bin/sh\nif then fi (\n"},
		opaque:     []string{"build.sh cannot be parsed as a shell script"},
	}} {
		t.Run(tc.name, func(t *testing.T) { runFollowCase(t, tc) })
	}
}
