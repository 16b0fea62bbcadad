// Package proc starts the child processes of cachecheck (the go command,
// git, unshare) so that they do not outlive it.
package proc
