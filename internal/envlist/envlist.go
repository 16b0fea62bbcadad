// Package envlist reads and edits environment lists in the form of
// os.Environ and exec.Cmd.Env: "NAME=value" strings, the last setting of a
// name winning.
package envlist

import "strings"

// Lookup returns the value env gives name, as the process started with env
// would see it: the last setting wins.
func Lookup(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Set returns a copy of env with name set to value, every earlier setting
// of name removed.
func Set(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}
