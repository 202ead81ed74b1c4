// Package engine evaluates catalogue controls against a host root. Each Run collects the facts
// the controls need lazily, each at most once (memoised per Run), evaluates the controls
// concurrently on a bounded pool of workers and hands every control's results to the caller.
// It only reads files below the root (through hostfs); it never runs a command and never
// writes to the host.
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/hostfs"
	"github.com/palisadehq/palisade/pkg/posture"
)

// Evidence is one observation behind a result: where it was read and what was found.
type Evidence struct {
	Source   string `json:"source,omitempty"` // in-root path the value came from
	Line     int    `json:"line,omitempty"`   // 1-based line in Source, 0 when not line-based
	Key      string `json:"key,omitempty"`
	Actual   string `json:"actual"`
	Expected string `json:"expected,omitempty"`
}

// Result is the outcome of one control on one resource.
type Result struct {
	ControlID string `json:"control_id"`
	// Resource is what the result is about: a file, unit, package, account or kernel
	// parameter; HostResource when there is none.
	Resource string         `json:"resource"`
	Status   posture.Status `json:"status"`
	Reason   string         `json:"reason"`
	Evidence []Evidence     `json:"evidence,omitempty"`
}

// HostResource is the resource of a result about the node as a whole.
const HostResource = "host"

// Outcome is every result of one control.
type Outcome struct {
	ControlID string   `json:"control_id"`
	Results   []Result `json:"results"`
}

// Options configures an Engine.
type Options struct {
	Root        string // host root, default "/"
	Concurrency int    // default runtime.GOMAXPROCS(0)
}

// Engine evaluates controls against one host root. It is safe for concurrent use; each Run
// has its own fact cache.
type Engine struct {
	fs          *hostfs.FS
	concurrency int
}

// New returns an Engine over opts.Root.
func New(opts Options) (*Engine, error) {
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("concurrency %d: want 0 (one worker per CPU) or more", opts.Concurrency)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = runtime.GOMAXPROCS(0)
	}
	fsys, err := hostfs.New(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return &Engine{fs: fsys, concurrency: opts.Concurrency}, nil
}

// Run evaluates each control once, concurrently, collecting each fact at most once per Run
// (memoised, lazily), and calls emit once per control, from one goroutine at a time
// (serialised). Outcomes arrive in completion order. When ctx is cancelled Run stops
// starting controls, emits nothing more, waits for its workers and returns ctx.Err().
func (e *Engine) Run(ctx context.Context, controls []*catalog.Control, emit func(Outcome)) error {
	if emit == nil {
		return errors.New("engine: emit is nil")
	}
	r := newRun(e.fs)
	jobs := make(chan *catalog.Control)
	var emitMu sync.Mutex // serialises emit
	var wg sync.WaitGroup
	workers := min(e.concurrency, len(controls))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				if ctx.Err() != nil {
					continue
				}
				out := r.evaluate(c)
				emitMu.Lock()
				if ctx.Err() == nil {
					emit(out)
				}
				emitMu.Unlock()
			}
		}()
	}
feed:
	for _, c := range controls {
		select {
		case jobs <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return ctx.Err()
}
