package analyzer

import "slices"

// GoBuilderStage returns the stage whose base image a deps image replaces:
// the image stage that the first stage running "go mod download" (or, when
// none does, the first running go build or go install) is built on. ok is
// false when no stage runs the go command.
func (b *Build) GoBuilderStage() (root *Stage, ok bool) {
	for _, want := range []func(goCall) bool{isDownload, isBuild} {
		for _, st := range b.Stages {
			for _, in := range st.Instructions {
				if slices.ContainsFunc(goCalls(in.Script()), want) {
					for i := 0; st.BaseStage >= 0 && i < len(b.Stages); i++ {
						st = b.Stages[st.BaseStage]
					}
					return st, true
				}
			}
		}
	}
	return nil, false
}
