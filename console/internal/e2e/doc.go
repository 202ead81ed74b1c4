// Package e2e holds the end-to-end tests and benchmarks of the console: a real console
// (SQLite, embedded NATS, TLS gRPC) and real sensors in one process on random ports, scanning
// fixture host roots.
package e2e
