package cli

import (
	"context"
	"fmt"
	stdio "io"
	"os"
	"strings"

	"github.com/cachecheck/cachecheck/reports"
	"github.com/spf13/pflag"
)

type renderOptions struct {
	format *enumValue
}

func newRenderCommand() *command {
	o := &renderOptions{format: newEnum("text", "text", "markdown", "json")}
	fs := pflag.NewFlagSet("render", pflag.ContinueOnError)
	fs.Var(o.format, "format", "output format: text, markdown (for the kinds that have one) or json")
	return &command{
		name:    "render",
		summary: "render the JSON of a cachecheck command again as text, markdown or JSON",
		usage:   "[--format text|markdown|json] FILE",
		help: `
Render reads a JSON document that a cachecheck command printed with
--format json, from FILE or, for -, from standard input, and writes it again
in --format: text gives what the command printed without --format json,
markdown a pull request comment (for the kinds that have one, such as
report, warm and key --diff), json the document itself. A CI job can so keep
one JSON file of a run and show it in several places.

The document's "kind" says which command wrote it: ` + strings.Join(reports.Kinds(), ", ") + `.
A document of another protocol_version, or without a kind (written by an
older cachecheck), is refused: run the command again.`,
		examples: `
cachecheck warm --format json > warm.json && cachecheck render warm.json
cachecheck key --diff origin/main --format json | cachecheck render --format markdown -
cachecheck report --base origin/main --format json > report.json && cachecheck render --format markdown report.json`,
		flags:    fs,
		validate: o.validate,
		run:      o.run,
	}
}

func (o *renderOptions) validate(args []string) error {
	if len(args) == 0 {
		return usageErrorf("render: no FILE: give the JSON document to render, or - for standard input")
	}
	return maxArgs("render", args, 1)
}

func (o *renderOptions) run(ctx context.Context, io IO, args []string) error {
	name := args[0]
	var r stdio.Reader = io.In
	if name == "-" {
		name = "standard input"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("render: %w", err)
		}
		defer f.Close()
		r = f
	}
	doc, err := reports.Read(r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := reports.Write(io.Out, reports.Format(o.format.String()), doc); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	return nil
}
