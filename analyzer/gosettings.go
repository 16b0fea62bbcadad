package analyzer

import (
	"maps"
	"strings"

	"github.com/cachecheck/cachecheck/analyzer/gosettings"
)

// GoBuild is one go build or go install of the module's own packages in a
// RUN instruction, with the settings it builds with.
type GoBuild struct {
	Stage       *Stage
	Instruction *Instruction
	// Command is "build" or "install".
	Command string
	// Packages are the package arguments ("." when none).
	Packages []string
	// Settings are the build's settings: from the RUN's ENV and ARG values
	// in scope, NAME=VALUE words and exports in the script, GOFLAGS, the
	// command's flags, the stage's --platform and the base image's tag.
	// CGOEnabled and GoVersion are "" when the Dockerfile does not tell.
	Settings gosettings.Settings
	// Where is the Makefile or script line of a go command that the RUN
	// runs through make or a script ("Makefile:12"); "" when the command is
	// on the RUN line or in its sh -c string.
	Where string
	// Via says how the RUN reaches it ("make build", "sh -c"); "" when the
	// command is on the RUN line.
	Via string
}

// GoBuilds returns the go build and go install commands of the module's
// packages in the Dockerfile, in order.
func (b *Build) GoBuilds() []GoBuild {
	var out []GoBuild
	for _, st := range b.Stages {
		root := st
		for i := 0; root.BaseStage >= 0 && i < len(b.Stages); i++ {
			root = b.Stages[root.BaseStage]
		}
		goVersion := ""
		if name, tag := splitImage(root.Base); isGolangImage(name) {
			if v, ok := gosettings.ParseVersion(tag); ok {
				goVersion = "go" + v.String()
			}
		}
		for _, in := range st.Instructions {
			if in.Run() == nil {
				continue
			}
			env := maps.Clone(in.Args)
			maps.Copy(env, in.Env)
			for _, c := range b.runBuilds(st, in, env) {
				gb := GoBuild{Stage: st, Instruction: in, Command: c.Name, Packages: c.Packages, Settings: c.Settings, Where: c.where, Via: c.via}
				if gb.Settings.GoVersion == "" {
					gb.Settings.GoVersion = goVersion
				}
				if gb.Settings.GOARCH == "" && root.Platform != "" {
					if _, arch, ok := strings.Cut(root.Platform, "/"); ok {
						arch, _, _ = strings.Cut(arch, "/")
						if !strings.Contains(arch, "$") {
							gb.Settings.GOARCH = arch
						}
					}
				}
				gb.Settings.Normalize()
				out = append(out, gb)
			}
		}
	}
	return out
}
