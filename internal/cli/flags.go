package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cachecheck/cachecheck/internal/publish"
	"github.com/spf13/pflag"
)

// enumValue is a pflag.Value that accepts one of a fixed set of values.
type enumValue struct {
	value   string
	allowed []string
}

func newEnum(def string, allowed ...string) *enumValue {
	return &enumValue{value: def, allowed: allowed}
}

func (e *enumValue) String() string { return e.value }
func (e *enumValue) Type() string   { return strings.Join(e.allowed, "|") }

func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.allowed, s) {
		return fmt.Errorf("%q is not one of %s", s, strings.Join(e.allowed, ", "))
	}
	e.value = s
	return nil
}

// timeoutEnv sets the default of --timeout.
const timeoutEnv = "CACHECHECK_TIMEOUT"

// registryFlags are the flags of every command that reaches a registry:
// --insecure and --timeout.
type registryFlags struct {
	insecure bool
	timeout  time.Duration
	changed  func() bool
}

func (r *registryFlags) register(fs *pflag.FlagSet, insecureUsage string) {
	fs.BoolVar(&r.insecure, "insecure", false, insecureUsage)
	fs.DurationVar(&r.timeout, "timeout", publish.DefaultTimeout, "abandon a registry request that makes no progress for `DURATION` (connecting, answering, sending or accepting a byte), then retry it; default $"+timeoutEnv+" when set")
	r.changed = func() bool { return fs.Changed("timeout") }
}

// validate reads CACHECHECK_TIMEOUT when --timeout was not given, and
// checks the timeout.
func (r *registryFlags) validate() error {
	if !r.changed() {
		if v := os.Getenv(timeoutEnv); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return usageErrorf("%s=%q: %v (want a duration such as 30s or 2m)", timeoutEnv, v, err)
			}
			r.timeout = d
		}
	}
	if r.timeout <= 0 {
		return usageErrorf("--timeout %s: want a positive duration such as 30s or 2m", r.timeout)
	}
	return nil
}

// options returns the registry options of the flags, after validate.
func (r *registryFlags) options(more ...publish.Option) []publish.Option {
	return append([]publish.Option{publish.WithInsecure(r.insecure), publish.WithTimeout(r.timeout)}, more...)
}
