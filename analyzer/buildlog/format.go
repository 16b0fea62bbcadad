package buildlog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Format is the form of a build log: which builder printed it, and how.
type Format int

const (
	// Unknown is no format this package reads.
	Unknown Format = iota
	// BuildKitJSON is "buildctl build --progress=rawjson" (or "docker
	// buildx build --progress=rawjson"): one JSON status object a line.
	BuildKitJSON
	// BuildKitPlain is "buildctl build --progress=plain" (or "docker build
	// --progress=plain"): "#N [stage i/n] INSTRUCTION", then "#N CACHED",
	// "#N DONE 1.2s" or "#N ERROR: ...".
	BuildKitPlain
	// Buildah is "buildah bud --layers" and "podman build": "STEP n/m:
	// INSTRUCTION" lines, each followed by "--> Using cache ID" when the
	// layer is reused.
	Buildah
	// Docker is the classic docker builder ("docker build" with
	// DOCKER_BUILDKIT=0, and docker-compose v1): "Step n/m : INSTRUCTION".
	Docker
)

var formatNames = [...]string{
	Unknown:       "unknown",
	BuildKitJSON:  "buildkit-rawjson",
	BuildKitPlain: "buildkit-plain",
	Buildah:       "buildah",
	Docker:        "docker",
}

// String returns the format's name: "buildkit-rawjson", "buildkit-plain",
// "buildah", "docker", or "unknown".
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// ParseFormat parses a format's name, as String returns it; "podman" is
// Buildah, as podman prints what buildah does.
func ParseFormat(s string) (Format, error) {
	if s == "podman" {
		return Buildah, nil
	}
	for f, name := range formatNames {
		if name == s && Format(f) != Unknown {
			return Format(f), nil
		}
	}
	return Unknown, fmt.Errorf("unknown build log format %q: want %s", s, strings.Join(formatNames[Unknown+1:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) {
	if f <= Unknown || int(f) >= len(formatNames) {
		return nil, fmt.Errorf("marshaling %v: not a build log format", f)
	}
	return []byte(f.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseFormat.
func (f *Format) UnmarshalText(text []byte) error {
	p, err := ParseFormat(string(text))
	if err != nil {
		return err
	}
	*f = p
	return nil
}

// Builder returns the builder that prints the format: "buildkit",
// "buildah" (podman's too) or "docker"; "" for Unknown.
func (f Format) Builder() string {
	switch f {
	case BuildKitJSON, BuildKitPlain:
		return "buildkit"
	case Buildah:
		return "buildah"
	case Docker:
		return "docker"
	}
	return ""
}

// detectLines is how many lines of a log Detect reads at the most.
const detectLines = 50

// Detect tells the format of a build log from its first lines that are
// not blank: a JSON object is BuildKitJSON, "#N ..." is BuildKitPlain
// (the go command's "# get URL" is not), "STEP n/m: ..." is Buildah,
// "Step n/m : ..." is Docker. It returns Unknown for anything else, such
// as the go command's own -x output (read by GoDownloads and GoCompiles).
func Detect(data []byte) Format {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxStepLogLine)
	for n := 0; sc.Scan() && n < detectLines; n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "{"):
			return BuildKitJSON
		case plainLine.MatchString(line):
			return BuildKitPlain
		case buildahStep.MatchString(line):
			return Buildah
		case dockerStep.MatchString(line):
			return Docker
		}
	}
	return Unknown
}

// Read reads the Dockerfile steps from a build log in format f, in
// Dockerfile order within each stage. An error that is the log's own (a
// line that does not parse, a truncated log, no steps) is an *Error.
//
// BuildKit's internal vertices (loading the Dockerfile, the context) are
// left out, and the two vertices BuildKit sometimes reports for one step
// are merged into one. The classic docker builder numbers steps across the
// whole Dockerfile, so Index and Total count in the Dockerfile, not in the
// stage. Buildah and docker print no times.
func Read(r io.Reader, f Format) ([]Step, error) {
	switch f {
	case BuildKitJSON:
		return readBuildKitJSON(r)
	case BuildKitPlain:
		return readBuildKitPlain(r)
	case Buildah:
		return readBuildah(r)
	case Docker:
		return readDocker(r)
	}
	return nil, fmt.Errorf("reading a build log: %v is not a build log format", f)
}
