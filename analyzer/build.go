package analyzer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Build is a parsed Dockerfile together with its build context.
type Build struct {
	// Dockerfile is the name of the Dockerfile used in errors and findings.
	Dockerfile string
	// Lines are the Dockerfile's lines, without line endings; Lines[0] is
	// line 1.
	Lines []string
	// Syntax is the value of the "# syntax=" directive, or "".
	Syntax string
	// EscapeToken is '\\' or the token set by "# escape=".
	EscapeToken rune
	// MetaArgs are the ARGs declared before the first FROM, with their
	// values after build-arg overrides (unset ARGs are left out).
	MetaArgs map[string]string
	// Stages are the build stages in order.
	Stages []*Stage
	// Context is the build context.
	Context fs.FS
	// IgnoreFile names the .dockerignore file in use, or "" when none.
	IgnoreFile string
	// Ignore holds the .dockerignore patterns; nil when there is no file.
	Ignore *Ignore

	// ignoreDefault names the .dockerignore a fix creates when there is
	// none.
	ignoreDefault string

	filesOnce sync.Once
	files     []string
	filesErr  error
	behind    followCache // RUNs followed into make and scripts
}

// Stage is one FROM and the instructions after it.
type Stage struct {
	// Index is the position of the stage, from 0.
	Index int
	// Name is the lower-cased name after AS, or "".
	Name string
	// Base is the base image or stage name, with ARGs expanded.
	Base string
	// BaseStage is the index of the earlier stage named by Base, or -1
	// when Base is an image.
	BaseStage int
	// Platform is the --platform value, with ARGs expanded.
	Platform string
	// Line and EndLine are the FROM instruction's lines, from 1.
	Line, EndLine int
	// Text is the FROM instruction as written.
	Text string
	// Instructions are the instructions after FROM.
	Instructions []*Instruction
	// Env and Args are the ENV values and the ARG values in effect at the
	// end of the stage; a stage built on this one starts from its Env.
	Env, Args map[string]string
}

// Ref returns the name the stage can be referred to by: its name, or its
// index as a string.
func (s *Stage) Ref() string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprint(s.Index)
}

// Instruction is one instruction of a stage.
type Instruction struct {
	// Command is BuildKit's instruction with ARG and ENV references in its
	// words and flags expanded as BuildKit expands them (a RUN's command
	// line is left to the shell and is not expanded).
	Command instructions.Command
	// Kind is the upper-case instruction name: RUN, COPY, ENV, ...
	Kind string
	// Line and EndLine are the lines it spans, from 1.
	Line, EndLine int
	// Text is the instruction as written, continuation lines joined.
	Text string
	// Env holds the ENV values and Args the ARG values in scope when the
	// instruction runs (before its own effect). Both are used by RUN: BuildKit
	// passes ARGs as environment variables and counts them in the cache key.
	Env, Args map[string]string
}

// Run returns the RUN command, or nil.
func (in *Instruction) Run() *instructions.RunCommand {
	c, _ := in.Command.(*instructions.RunCommand)
	return c
}

// Script returns the shell text of a RUN: its command line and any heredoc
// bodies, joined by newlines. It returns "" for other instructions.
func (in *Instruction) Script() string {
	r := in.Run()
	if r == nil {
		return ""
	}
	parts := []string{strings.Join(r.CmdLine, " ")}
	for _, f := range r.Files {
		parts = append(parts, f.Data)
	}
	return strings.Join(parts, "\n")
}

// Mounts returns the --mount options of a RUN, or nil.
func (in *Instruction) Mounts() []*instructions.Mount {
	if r := in.Run(); r != nil {
		return instructions.GetMounts(r)
	}
	return nil
}

// Copy describes a COPY or ADD: its sources, destination and --from. It
// returns ok false for other instructions.
func (in *Instruction) Copy() (c CopyInfo, ok bool) {
	switch x := in.Command.(type) {
	case *instructions.CopyCommand:
		return CopyInfo{Sources: x.SourcePaths, Dest: x.DestPath, From: x.From, Exclude: x.ExcludePatterns, Inline: len(x.SourceContents) > 0}, true
	case *instructions.AddCommand:
		return CopyInfo{Sources: x.SourcePaths, Dest: x.DestPath, Exclude: x.ExcludePatterns, Add: true, Inline: len(x.SourceContents) > 0}, true
	}
	return CopyInfo{}, false
}

// CopyInfo is what a COPY or ADD copies.
type CopyInfo struct {
	Sources []string // source paths as written (after ARG expansion)
	Dest    string
	From    string   // --from stage or image, "" for the build context
	Exclude []string // --exclude patterns
	Add     bool     // ADD rather than COPY
	Inline  bool     // heredoc sources
}

// FromContext reports whether the sources come from the build context.
func (c CopyInfo) FromContext() bool { return c.From == "" }

// ParseError is a Dockerfile that BuildKit rejects; it prints as
// "Dockerfile:12: message".
type ParseError struct {
	File string
	Line int // 0 when unknown
	Err  error
}

func (e *ParseError) Error() string {
	msg := printable(e.Err.Error())
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return fmt.Sprintf("%s: %s", e.File, msg)
}

// printable escapes what a terminal should not print from a message that
// quotes a hostile file (BuildKit quotes a whole unknown instruction) and
// cuts it to 400 bytes.
func printable(msg string) string {
	var b strings.Builder
	for i, r := range msg {
		if b.Len() >= 400 {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(msg[i:], "\uFFFD"):
			fmt.Fprintf(&b, "\\x%02x", msg[i])
		case r == '\t' || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x00'
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

func parseError(file string, err error) error {
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, loc := range le.Locations {
			if len(loc) > 0 && loc[0].Start.Line > 0 {
				line = loc[0].Start.Line
				break
			}
		}
		err = le.Unwrap()
	}
	msg := err.Error()
	// BuildKit prefixes instruction errors with "dockerfile parse error on
	// line N: "; the line is already in the position.
	if i := strings.Index(msg, "dockerfile parse error on line "); i >= 0 {
		rest := msg[i+len("dockerfile parse error on line "):]
		if j := strings.Index(rest, ": "); j >= 0 {
			if line == 0 {
				fmt.Sscan(rest[:j], &line)
			}
			msg = rest[j+2:]
		}
	}
	return &ParseError{File: file, Line: line, Err: errors.New(msg)}
}

// Parse parses Dockerfile text with BuildKit's parser and resolves its
// stages, ARGs and ENVs. name is used in errors and findings. The build
// has an empty context; use Load for a Dockerfile with its context. Of the
// LoadOptions only WithBuildArgs applies; the others are refused.
func Parse(name string, data []byte, opts ...LoadOption) (*Build, error) {
	o, err := newLoadOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(o.loadOnly) > 0 {
		return nil, parseOnlyError(o.loadOnly)
	}
	return parse(name, data, o)
}

func parse(name string, data []byte, o *loadOptions) (*Build, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		if n := longLine(data); n > 0 && strings.Contains(err.Error(), "line greater than max allowed size") {
			// BuildKit gives the line of the instruction, or none.
			return nil, &ParseError{File: name, Line: n, Err: fmt.Errorf("line longer than %d bytes, the most BuildKit reads; split it with \\ continuations", bufio.MaxScanTokenSize-1)}
		}
		return nil, parseError(name, err)
	}
	// BuildKit keeps about 2 KB per parsed instruction: bound the count
	// so that a Dockerfile of short lines does not take hundreds of MB.
	if n := len(res.AST.Children); n > maxInstructions {
		return nil, &ParseError{File: name, Line: res.AST.Children[maxInstructions].StartLine,
			Err: fmt.Errorf("more than %d instructions (%d); cachecheck analyzes Dockerfiles of up to %d instructions", maxInstructions, n, maxInstructions)}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, parseError(name, err)
	}
	b := &Build{
		Dockerfile:  name,
		Lines:       strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n"),
		EscapeToken: res.EscapeToken,
		MetaArgs:    map[string]string{},
	}
	if syntax, _, _, ok := parser.DetectSyntax(data); ok {
		b.Syntax = syntax
	}
	x := &expander{lex: shell.NewLex(res.EscapeToken)}
	for _, ma := range metaArgs {
		for _, kv := range ma.Args {
			if v, ok := o.buildArgs[kv.Key]; ok {
				b.MetaArgs[kv.Key] = v
				continue
			}
			if kv.Value != nil {
				v, err := x.expand(*kv.Value, envGetter(b.MetaArgs))
				if err != nil {
					return nil, &ParseError{File: name, Line: startLine(ma.Location()), Err: err}
				}
				b.MetaArgs[kv.Key] = v
			}
		}
	}
	for i := range stages {
		st, err := b.resolveStage(i, &stages[i], x, o)
		if err != nil {
			return nil, err
		}
		b.Stages = append(b.Stages, st)
	}
	if len(b.Stages) == 0 {
		return nil, &ParseError{File: name, Err: errors.New("no FROM instruction")}
	}
	return b, nil
}

func (b *Build) resolveStage(i int, s *instructions.Stage, x *expander, o *loadOptions) (*Stage, error) {
	st := &Stage{
		Index:     i,
		Name:      s.Name,
		BaseStage: -1,
		Text:      s.SourceCode,
		Line:      startLine(s.Location),
		EndLine:   endLine(s.Location),
	}
	base, err := x.expand(s.BaseName, envGetter(b.MetaArgs))
	if err != nil {
		return nil, &ParseError{File: b.Dockerfile, Line: st.Line, Err: fmt.Errorf("expanding base name %q: %w", s.BaseName, err)}
	}
	st.Base = base
	if st.Platform, err = x.expand(s.Platform, envGetter(b.MetaArgs)); err != nil {
		return nil, &ParseError{File: b.Dockerfile, Line: st.Line, Err: fmt.Errorf("expanding --platform %q: %w", s.Platform, err)}
	}
	env, args := map[string]string{}, map[string]string{}
	if prev := b.Stage(strings.ToLower(base)); prev != nil {
		st.BaseStage = prev.Index
		env = maps.Clone(prev.Env)
	} else {
		maps.Copy(env, imageEnv(base))
	}
	// The instructions between two ARG or ENV instructions share their
	// Env and Args maps: an ARG or ENV copies them before changing them.
	if err := x.addEntries(len(env)); err != nil {
		return nil, &ParseError{File: b.Dockerfile, Line: st.Line, Err: err}
	}
	for _, cmd := range s.Commands {
		in := &Instruction{
			Command: cmd,
			Kind:    strings.ToUpper(cmd.Name()),
			Line:    startLine(cmd.Location()),
			EndLine: endLine(cmd.Location()),
			Env:     env,
			Args:    args,
		}
		if s, ok := cmd.(fmt.Stringer); ok {
			in.Text = s.String()
		}
		// ARG and ENV are expanded against the scope before them, like
		// every other instruction; ENV wins over ARG of the same name.
		sc := scope{env: env, args: args}
		expand := func(word string) (string, error) {
			return x.expand(word, sc)
		}
		if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			if err := e.Expand(expand); err != nil {
				return nil, &ParseError{File: b.Dockerfile, Line: in.Line, Err: err}
			}
		}
		if e, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
			if err := e.ExpandRaw(expand); err != nil {
				return nil, &ParseError{File: b.Dockerfile, Line: in.Line, Err: err}
			}
		}
		switch c := cmd.(type) {
		case *instructions.ArgCommand:
			args = maps.Clone(args)
			if err := x.addEntries(len(args) + len(c.Args)); err != nil {
				return nil, &ParseError{File: b.Dockerfile, Line: in.Line, Err: err}
			}
			for _, kv := range c.Args {
				switch v, ok := o.buildArgs[kv.Key]; {
				case ok:
					args[kv.Key] = v
				case kv.Value != nil:
					args[kv.Key] = *kv.Value
				default:
					// An ARG with no value that no --build-arg sets is
					// not in the environment of the RUN instructions
					// (make's ?= and a script's ${VAR-…} tell); it
					// expands to "" all the same.
					if mv, ok := b.MetaArgs[kv.Key]; ok {
						args[kv.Key] = mv
					} else {
						delete(args, kv.Key)
					}
				}
			}
		case *instructions.EnvCommand:
			env = maps.Clone(env)
			if err := x.addEntries(len(env) + len(c.Env)); err != nil {
				return nil, &ParseError{File: b.Dockerfile, Line: in.Line, Err: err}
			}
			for _, kv := range c.Env {
				env[kv.Key] = kv.Value
			}
		}
		st.Instructions = append(st.Instructions, in)
	}
	st.Env, st.Args = env, args
	return st, nil
}

// imageEnv returns the environment that well-known Go base images set.
func imageEnv(ref string) map[string]string {
	if name, _ := splitImage(ref); isGolangImage(name) {
		return map[string]string{"GOPATH": "/go"}
	}
	return nil
}

// isGolangImage reports whether the repository name (from splitImage) is
// the golang image or a copy of it: "golang", or any path ending in
// "/golang" such as an internal mirror's "mirror/golang".
func isGolangImage(name string) bool {
	return name == "golang" || strings.HasSuffix(name, "/golang")
}

// isDockerHubGolang reports whether ref is Docker Hub's own golang image,
// whose environment is known without reading its config.
func isDockerHubGolang(ref string) bool {
	name, _ := splitImage(ref)
	if name != "golang" {
		return false
	}
	first, _, ok := strings.Cut(ref, "/")
	return !ok || first == "library" || first == "docker.io" || first == "index.docker.io"
}

// imageRepo returns ref without its tag and digest.
func imageRepo(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func startLine(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

func endLine(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[len(r)-1].End.Line
}

type envGetter map[string]string

func (e envGetter) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e envGetter) Keys() []string              { return slices.Sorted(maps.Keys(e)) }

// Stage returns the stage with the given name or index, or nil.
func (b *Build) Stage(ref string) *Stage {
	lower := strings.ToLower(ref)
	for _, s := range b.Stages {
		if s.Name != "" && s.Name == lower {
			return s
		}
	}
	if i, err := strconv.Atoi(ref); err == nil && i >= 0 && i < len(b.Stages) && strconv.Itoa(i) == ref {
		return b.Stages[i]
	}
	return nil
}

// Target returns the stage that is built: the last one.
func (b *Build) Target() *Stage { return b.Stages[len(b.Stages)-1] }

// splitImage splits an image reference into its repository name without
// registry host and "library/", and its tag ("" when there is none).
func splitImage(ref string) (name, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	parts := strings.Split(ref, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	if len(parts) > 1 && parts[0] == "library" {
		parts = parts[1:]
	}
	return path.Join(parts...), tag
}

// longLine returns the number of the first line that BuildKit's scanner
// cannot read whole, or 0.
func longLine(data []byte) int {
	for n := 1; len(data) > 0; n++ {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		if len(line) >= bufio.MaxScanTokenSize {
			return n
		}
		data = rest
	}
	return 0
}
