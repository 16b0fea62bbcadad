package analyzer

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
)

// followCase is a RUN followed into Makefiles and scripts: the go commands
// found behind its last RUN, in order, as "go SUB ARGS @WHERE via VIA",
// substrings of their command texts (with the environment), and of the
// reasons of the steps that cannot be read.
type followCase struct {
	name       string
	dockerfile string
	files      map[string]string
	want       []string
	text       []string
	opaque     []string
}

const goModule = "module example.com/app\n\ngo 1.22\n\nrequire example.com/dep v1.0.0\n"

func runFollowCase(t *testing.T, tc followCase) {
	t.Helper()
	fsys := fstest.MapFS{"Dockerfile": {Data: []byte(tc.dockerfile)}, "go.mod": {Data: []byte(goModule)}}
	for name, data := range tc.files {
		fsys[name] = &fstest.MapFile{Data: []byte(data), Mode: 0o755}
	}
	b, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var st *Stage
	var in *Instruction
	for _, s := range b.Stages {
		for _, x := range s.Instructions {
			if x.Run() != nil {
				st, in = s, x
			}
		}
	}
	start := time.Now()
	var got, texts []string
	for _, c := range b.runCalls(st, in) {
		if c.from == nil {
			continue
		}
		got = append(got, fmt.Sprintf("go %s%s @%s via %s", c.sub, c.args, c.from.where, c.from.via))
		texts = append(texts, c.from.text)
	}
	var opaque []string
	if fw := b.follow(st, in); fw != nil {
		opaque = fw.opaque
	}
	checkBudget(t, b)
	t.Logf("following took %v", time.Since(start))
	if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
		t.Errorf("go commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
	}
	all := strings.Join(texts, "\n")
	for _, s := range tc.text {
		if !strings.Contains(all, s) {
			t.Errorf("no command text holds %q:\n%s", s, all)
		}
	}
	reasons := strings.Join(opaque, "\n")
	for _, s := range tc.opaque {
		if !strings.Contains(reasons, s) {
			t.Errorf("no reason holds %q:\n%s", s, reasons)
		}
	}
	if len(tc.opaque) == 0 && len(opaque) > 0 {
		t.Errorf("unexpected reasons:\n%s", reasons)
	}
}

const buildStage = "FROM golang:1.22 AS build\nWORKDIR /src\nCOPY . .\n"

func TestFollowMake(t *testing.T) {
	for _, tc := range []followCase{{
		name:       "variables, prerequisites, export",
		dockerfile: buildStage + "RUN make build\n",
		files: map[string]string{"Makefile": `# A Makefile shaped like many Go projects'.
GO ?= go
VERSION ?= $(shell git describe --tags --always)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOFLAGS ?= -trimpath
export CGO_ENABLED=0
BIN = bin/app

.PHONY: build generate deps
build: generate deps
	$(GO) build $(GOFLAGS) -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/app

generate:
	@echo generating
	@$(GO) generate ./...

deps:
	go mod download
`},
		want: []string{
			"go generate ./... @Makefile:15 via make build",
			"go mod download @Makefile:18 via make build",
			"go build -trimpath -ldflags '-s -w -X main.version=$(shell git describe --tags --always)' -o bin/app ./cmd/app @Makefile:11 via make build",
		},
		text: []string{"CGO_ENABLED=0 GOPATH=/go go build -trimpath"},
	}, {
		name:       "default goal, include, +=, ifeq",
		dockerfile: buildStage + "RUN make\n",
		files: map[string]string{
			"Makefile":        "include build/common.mk\n-include local.mk\n\nall: app\n\napp:\n\tCGO_ENABLED=$(CGO) GOOS=$(OS) $(GO) build $(BUILD_FLAGS) -o $@ .\n",
			"build/common.mk": "GO := go\nCGO ?= 0\nOS = linux\nBUILD_FLAGS := -mod=vendor\nBUILD_FLAGS += -tags netgo\nifeq ($(OS),linux)\nBUILD_FLAGS += -trimpath\nelse\nBUILD_FLAGS += -race\nendif\n",
		},
		want: []string{"go build -mod=vendor -tags netgo -trimpath -o app . @Makefile:7 via make"},
		text: []string{"GOOS=linux CGO_ENABLED=0 GOPATH=/go go build -mod=vendor"},
	}, {
		name:       ".DEFAULT_GOAL and a command-line variable",
		dockerfile: buildStage + "RUN make -j4 GOARCH=arm64\n",
		files:      map[string]string{"Makefile": ".DEFAULT_GOAL := release\ntest:\n\tgo test ./...\nrelease:\n\tgo build -o /out/app ./cmd/app\n"},
		want:       []string{"go build -o /out/app ./cmd/app @Makefile:5 via make -j4 GOARCH=arm64"},
		text:       []string{"GOARCH=arm64 "},
	}, {
		name:       "recursive make into a subdirectory",
		dockerfile: buildStage + "RUN make build\n",
		files: map[string]string{
			"Makefile":        "export GOFLAGS=-mod=mod\nbuild:\n\t$(MAKE) -C server build\n\tcd tools && $(MAKE)\n",
			"server/Makefile": "build:\n\tgo build -o ../bin/server .\n",
			"tools/Makefile":  "tools:\n\tgo install ./cmd/...\n",
		},
		want: []string{
			"go build -o ../bin/server . @server/Makefile:2 via make build → make -C server build",
			"go install ./cmd/... @tools/Makefile:2 via make build → make",
		},
		text: []string{"GOFLAGS=-mod=mod GOPATH=/go go build"},
	}, {
		name:       "make -C and -f from a WORKDIR, files copied from a subdirectory",
		dockerfile: "FROM golang:1.22\nWORKDIR /app\nCOPY go.mod ./\nCOPY service/ ./service/\nRUN make -C service -f build.mk image\n",
		files:      map[string]string{"service/build.mk": "image: ; go build -o /bin/svc ./cmd/svc\n"},
		want:       []string{"go build -o /bin/svc ./cmd/svc @service/build.mk:1 via make -C service -f build.mk image"},
	}, {
		name:       "the Makefile copied from elsewhere in the context",
		dockerfile: "FROM golang:1.22\nWORKDIR /src\nCOPY build/docker.mk Makefile\nCOPY . .\nRUN make\n",
		files:      map[string]string{"build/docker.mk": "bin:\n\tgo build ./...\n", "Makefile": "bin:\n\techo the host Makefile\n"},
		// COPY . . puts the root Makefile over the one copied before.
		want: nil,
	}, {
		name:       "target-specific variables, pattern and static pattern rules",
		dockerfile: buildStage + "RUN make release\n",
		files: map[string]string{"Makefile": `PLATFORMS := linux-amd64 linux-arm64
release: export CGO_ENABLED = 0
release: GOFLAGS += -trimpath
release: $(addprefix build-,$(PLATFORMS)) tool
build-%:
	GOOS=$(word 1,$(subst -, ,$*)) GOARCH=$(word 2,$(subst -, ,$*)) go build $(GOFLAGS) -o bin/$*/app .
TOOLS := tool
$(TOOLS): %: cmd/%/main.go
	go build -o bin/$@ ./cmd/$*
`},
		want: []string{
			"go build -trimpath -o bin/linux-amd64/app . @Makefile:6 via make release",
			"go build -trimpath -o bin/linux-arm64/app . @Makefile:6 via make release",
			"go build -o bin/tool ./cmd/tool @Makefile:9 via make release",
		},
		text: []string{"GOOS=linux GOARCH=arm64 CGO_ENABLED=0"},
	}, {
		name:       "a Makefile that runs a script",
		dockerfile: buildStage + "RUN make build\n",
		files: map[string]string{
			"Makefile":         "build:\n\t./scripts/build.sh $(TARGET)\n",
			"scripts/build.sh": "#!/usr/bin/env bash\nset -euo pipefail\nCGO_ENABLED=0 go build -o bin/app ./cmd/app\n",
		},
		want: []string{"go build -o bin/app ./cmd/app @scripts/build.sh:3 via make build → ./scripts/build.sh"},
		text: []string{"CGO_ENABLED=0"},
	}, {
		name:       "define, call and foreach",
		dockerfile: buildStage + "RUN make all\n",
		files:      map[string]string{"Makefile": "CMDS = api worker\ndefine build_cmd\ngo build -o bin/$(1) ./cmd/$(1)\nendef\nall:\n\t$(foreach c,$(CMDS),$(call build_cmd,$(c)) &&) true\n"},
		want: []string{
			"go build -o bin/api ./cmd/api @Makefile:6 via make all",
			"go build -o bin/worker ./cmd/worker @Makefile:6 via make all",
		},
	}, {
		name:       "no Makefile",
		dockerfile: buildStage + "RUN make build\n",
		opaque:     []string{"make build: there is no Makefile in /src: no COPY from the build context puts a file at /src/Makefile"},
	}, {
		name:       "an unknown target",
		dockerfile: buildStage + "RUN make image\n",
		files:      map[string]string{"Makefile": "build:\n\tgo build .\n"},
		opaque:     []string{"make image: the Makefile has no rule for image"},
	}, {
		name:       "a Makefile from another stage",
		dockerfile: "FROM alpine AS src\nRUN mkdir /w\nFROM golang:1.22\nWORKDIR /src\nCOPY --from=src /w/Makefile ./\nRUN make\n",
		opaque:     []string{"/src/Makefile is copied from src by the COPY at line 5, not from the build context"},
	}, {
		name:       "$(shell) assignment and $(eval)",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": "COMMIT != git rev-parse HEAD\n$(eval X := 1)\nb:\n\tgo build -ldflags=-X=main.c=$(COMMIT) .\n"},
		want:       []string{"go build '-ldflags=-X=main.c=$(shell git rev-parse HEAD)' . @Makefile:4 via make"},
		opaque:     []string{"COMMIT != ... is a shell command, left unexpanded", "$(eval ...) not run"},
	}} {
		t.Run(tc.name, func(t *testing.T) { runFollowCase(t, tc) })
	}
}

// TestFollowHostile follows Makefiles and scripts built to exhaust the
// reader: each must end quickly (runFollowCase fails past 2 s) and say
// what it did not read.
func TestFollowHostile(t *testing.T) {
	var doubling strings.Builder
	doubling.WriteString("B0 = x\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&doubling, "B%d = $(B%d)$(B%d)\n", i, i-1, i-1)
	}
	doubling.WriteString("all:\n\tgo build -o $(B40) .\n")
	var simpleDoubling strings.Builder
	simpleDoubling.WriteString("A := x\n")
	for range 40 {
		simpleDoubling.WriteString("A := $(A)$(A)\n")
	}
	simpleDoubling.WriteString("all:\n\tgo build .\n")
	var chain strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&chain, "t%d: t%d\n", i, i+1)
	}
	chain.WriteString("t5000:\n\tgo build .\n")
	var wide strings.Builder
	wide.WriteString("all:")
	for i := range 30000 {
		fmt.Fprintf(&wide, " p%d", i)
	}
	wide.WriteString("\n")
	for i := range 30000 {
		fmt.Fprintf(&wide, "p%d:\n\tgo vet ./p%d\n", i, i)
	}
	var nested strings.Builder
	nested.WriteString("all:\n\tgo build ")
	nested.WriteString(strings.Repeat("$(if x,", 200) + "." + strings.Repeat(")", 200) + "\n")
	for _, tc := range []followCase{{
		name:       "a variable that refers to itself",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": "GOFLAGS = $(GOFLAGS) -v\nall:\n\tgo build $(GOFLAGS) .\n"},
		want:       []string{"go build -v . @Makefile:3 via make"},
		opaque:     []string{"variable GOFLAGS refers to itself, which make rejects"},
	}, {
		name:       "two variables that refer to each other",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": "A = $(B)\nB = $(A)\nall:\n\tgo build $(A) .\n"},
		want:       []string{"go build . @Makefile:4 via make"},
		opaque:     []string{"refers to itself"},
	}, {
		name:       "exponential recursive variables",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": doubling.String()},
		opaque:     []string{"variables not expanded further"},
		want:       []string{"go build -o @Makefile:43 via make"},
	}, {
		name:       "exponential simple variables",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": simpleDoubling.String()},
		want:       []string{"go build . @Makefile:43 via make"},
		opaque:     []string{"variables not expanded further"},
	}, {
		name:       "an include cycle",
		dockerfile: buildStage + "RUN make\n",
		files: map[string]string{
			"Makefile": "include a.mk\nall:\n\tgo build .\n",
			"a.mk":     "X = 1\ninclude b.mk\n",
			"b.mk":     "include a.mk\n",
		},
		want:   []string{"go build . @Makefile:3 via make"},
		opaque: []string{"a.mk includes itself: include cycle not followed"},
	}, {
		name:       "a Makefile of 2 MiB",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": "all:\n\tgo build .\n" + strings.Repeat("# padding\n", 210000)},
		opaque:     []string{"Makefile not read: larger than 1 MiB"},
	}, {
		name:       "a chain of 5,000 prerequisites",
		dockerfile: buildStage + "RUN make t0\n",
		files:      map[string]string{"Makefile": chain.String()},
		opaque:     []string{"prerequisites nested more than"},
	}, {
		name:       "30,000 prerequisites with recipes",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": wide.String()},
		opaque:     []string{"not read to the end: more than 20000 commands and rules"},
		want:       vetCalls(maxFollowCalls),
	}, {
		name:       "deeply nested functions",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": nested.String()},
		want:       []string{"go build @Makefile:2 via make"},
		opaque:     []string{"variable references nested more than 64 deep not expanded"},
	}, {
		name:       "make that runs itself",
		dockerfile: buildStage + "RUN make\n",
		files:      map[string]string{"Makefile": "all:\n\t$(MAKE) all\n"},
		opaque:     []string{"make and scripts nested more than 8 deep"},
	}, {
		name:       "a script that runs itself",
		dockerfile: buildStage + "RUN ./build.sh\n",
		files:      map[string]string{"build.sh": "#!/bin/sh\n./build.sh\nsh ./build.sh\n"},
		opaque:     []string{"make and scripts nested more than 8 deep"},
	}, {
		name:       "a shell function that calls itself",
		dockerfile: buildStage + "RUN ./build.sh\n",
		files:      map[string]string{"build.sh": "#!/bin/sh\nf() { f; }\nf\ngo vet .\n"},
		want:       []string{"go vet . @build.sh:4 via ./build.sh"},
	}} {
		t.Run(tc.name, func(t *testing.T) { runFollowCase(t, tc) })
	}
}

// vetCalls is the go vet commands of the Makefile of 30,000 targets that
// are kept: the first n.
func vetCalls(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("go vet ./p%d @Makefile:%d via make", i, 3+2*i))
	}
	return out
}

// checkBudget fails when following make and scripts for b did more work
// than the bounds allow: the bounds, not the wall clock (which depends on
// the machine and its load), are what keep hostile inputs fast.
func checkBudget(t *testing.T, b *Build) {
	t.Helper()
	c := &b.behind
	// The expansion budget is checked after each expansion, so the last
	// one may overdraw it; never by as much as the budget again.
	if c.steps > maxFollowSteps || c.bytes > maxFollowBytes || c.followed > maxFollowedRuns || c.workSet && c.work < -maxMakeWork {
		t.Errorf("over budget: %d of %d steps, %d of %d bytes, %d of %d runs, %d of %d expansion units left",
			c.steps, maxFollowSteps, c.bytes, maxFollowBytes, c.followed, maxFollowedRuns, c.work, maxMakeWork)
	}
}

// TestFollowManyRuns analyzes a Dockerfile of 300 RUN make lines over a
// Makefile of 1 MiB: the bounds for the whole Dockerfile keep it fast.
func TestFollowManyRuns(t *testing.T) {
	var mk strings.Builder
	mk.WriteString("GO ?= go\n")
	for i := 0; mk.Len() < maxFollowFileSize-200; i++ {
		fmt.Fprintf(&mk, "t%d: t%d\n\t$(GO) vet ./p%d\n", i, i+1, i)
	}
	var df strings.Builder
	df.WriteString(buildStage)
	for i := range 300 {
		fmt.Fprintf(&df, "RUN make t%d\n", i)
	}
	fsys := fstest.MapFS{"Dockerfile": {Data: []byte(df.String())}, "go.mod": {Data: []byte(goModule)}, "Makefile": {Data: []byte(mk.String())}}
	start := time.Now()
	b, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	findings, err := Analyze(b)
	if err != nil {
		t.Fatal(err)
	}
	checkBudget(t, b)
	if len(findings) == 0 {
		t.Error("no findings")
	}
	t.Logf("%d findings in %v", len(findings), time.Since(start))
}

// TestFindingsBehindMake checks that a finding about a go command behind
// make or a script stays on the RUN line and names where the command is.
func TestFindingsBehindMake(t *testing.T) {
	for _, tc := range []struct {
		fixture, rule string
		line          int
		message       string
	}{
		{"CC001_make_deps", "CC001", 3, "(go mod download at Makefile:4, run by make deps)"},
		{"CC008_make_cgo", "CC008", 5, "(go build at Makefile:5, run by make build)"},
		{"CC006_script_no_mount", "CC006", 7, "go build runs without a cache mount on /root/.cache/go-build (the cache mount on /go/pkg/mod is elsewhere) (go build at scripts/build.sh:4, run by ./scripts/build.sh)"},
		{"CC012_make", "CC012", 4, "-trimpath: the cache was built with it, the build does not use it"},
		{"CC012_make", "CC012", 4, "(go build at Makefile:3, run by make)"},
		{"CC005_make_vendor", "CC005", 6, "go build uses -mod=vendor but there is no vendor/modules.txt beside go.mod in the build context (go build at Makefile:4, run by make)"},
		{"CC013_ok_readable", "CC003", 4, "go build fetches modules itself after the source is copied: every code change downloads all modules again (go build at Makefile:7, run by make)"},
		{"CC013_missing_makefile", "CC013", 4, "make build: there is no Makefile in /src: Makefile is excluded by .dockerignore, so the COPY at line 3 does not put it at /src/Makefile"},
	} {
		t.Run(tc.fixture+"/"+tc.rule, func(t *testing.T) {
			var c ruleCase
			for _, rc := range loadRuleCases(t) {
				if strings.HasSuffix(rc.file, "/"+tc.fixture+".txtar") {
					c = rc
				}
			}
			if c.fsys == nil {
				t.Fatalf("no fixture %s", tc.fixture)
			}
			b, err := Load(c.fsys)
			if err != nil {
				t.Fatal(err)
			}
			var opts []Option
			for _, line := range c.depsSet {
				s, err := gosettings.Parse(line)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, WithDepsImageSettings(s))
			}
			findings, err := Analyze(b, opts...)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, f := range findings {
				if f.Rule == tc.rule && f.Line == tc.line && strings.Contains(f.Message, tc.message) {
					return
				}
				all = append(all, fmt.Sprintf("%s:%d %s", f.Rule, f.Line, f.Message))
			}
			t.Errorf("no %s finding at line %d saying %q:\n%s", tc.rule, tc.line, tc.message, strings.Join(all, "\n"))
		})
	}
}

// TestGoBuildsBehindMake checks the build settings that CC012 and warm
// --build-cache read from a go build behind make and a script.
func TestGoBuildsBehindMake(t *testing.T) {
	fsys := fstest.MapFS{
		"Dockerfile":   {Data: []byte("FROM --platform=linux/arm64 golang:1.22.3 AS build\nWORKDIR /src\nCOPY . .\nRUN make release\nRUN ./hack/tool.sh\n")},
		"go.mod":       {Data: []byte(goModule)},
		"Makefile":     {Data: []byte("export CGO_ENABLED := 0\nGOFLAGS ?= -trimpath\nTAGS = netgo osusergo\nrelease:\n\tgo build $(GOFLAGS) -tags '$(TAGS)' -o bin/app ./cmd/app\n")},
		"hack/tool.sh": {Data: []byte("#!/bin/sh\nGOAMD64=v3 GOARCH=amd64 go install -gcflags=all=-N ./tools/x\n")},
	}
	b, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, gb := range b.GoBuilds() {
		got = append(got, fmt.Sprintf("%d %s %v %s via %s: %s", gb.Instruction.Line, gb.Command, gb.Packages, gb.Where, gb.Via, gb.Settings))
	}
	want := []string{
		"4 build [./cmd/app] Makefile:5 via make release: go1.22.3 GOOS=linux GOARCH=arm64 CGO_ENABLED=0 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -trimpath -tags=netgo,osusergo",
		"5 install [./tools/x] hack/tool.sh:2 via ./hack/tool.sh: go1.22.3 GOOS=linux GOARCH=amd64 GOAMD64=v3 GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build -gcflags=all=-N",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("GoBuilds:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
