// Package reports is where cachecheck's typed documents become text,
// markdown, JSON and SARIF: findings through a Handler, and every
// command's summary (warm, key, prune, prediction, bench, the pull-request
// report) as a Doc that Write renders and Read reads back from its JSON.
// It holds no registry or image code.
package reports
