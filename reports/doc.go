// Package reports renders one stream of typed findings as text, JSON or
// SARIF; it holds no registry or image code.
package reports
