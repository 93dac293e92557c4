package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"consulx/node"
)

// A read endpoint of the agent, in its two forms: the ordinary call
// (blocking inside the agent when it must), and the read-and-watch the
// agent answers from its own state for parking (node.ErrNotLocal when it
// cannot).
type (
	readCall[A, R any]  func(ctx context.Context, req *A) (*R, error)
	readWatch[A, R any] func(req *A, prev *node.Watch) (*R, *node.Watch, error)
	// render sets the headers for a result and returns the body to encode
	// (nil when it wrote the response itself).
	render[R any] func(w http.ResponseWriter, r *http.Request, out *R) (any, error)
)

// serveRead answers a read endpoint. A blocking read (?index) that this
// agent answers from its own state, with nothing newer than the index
// yet, is parked (park.go): no goroutine stack or buffers are held while
// it waits. Every other read is an ordinary call.
func serveRead[A, R any](h *Handler, w http.ResponseWriter, r *http.Request, req *A, opts *node.QueryOptions,
	call readCall[A, R], watch readWatch[A, R], show render[R]) (any, error) {
	if opts.MinIndex > 0 && h.returnConn != nil && watch != nil {
		out, wt, err := watch(req, nil)
		switch {
		case errors.Is(err, node.ErrNotLocal):
			// the ordinary path below
		case err != nil:
			return nil, err
		case wt == nil:
			return show(w, r, out)
		default:
			deadline := time.Now().Add(h.agent.BlockingWait(opts.MaxWait))
			p := &parkedRead[A, R]{req: req, first: wt, call: call, watch: watch, show: show}
			if h.park(w, r, wt, deadline, p) {
				return nil, nil
			}
			wt.Stop()
		}
	}
	out, err := call(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return show(w, r, out)
}

// parkedRead is one parked blocking read (see parkable).
type parkedRead[A, R any] struct {
	req   *A
	first *node.Watch // the first round's watch: a restore since then answers at once
	call  readCall[A, R]
	watch readWatch[A, R]
	show  render[R]

	out   *R // the answer, once recheck found one
	err   error
	ready bool
}

func (p *parkedRead[A, R]) recheck() *node.Watch {
	out, wt, err := p.watch(p.req, p.first)
	switch {
	case errors.Is(err, node.ErrNotLocal):
		return nil // e.g. leadership moved: answer through the ordinary path
	case err != nil:
		p.err, p.ready = err, true
		return nil
	case wt == nil:
		p.out, p.ready = out, true
		return nil
	}
	return wt
}

func (p *parkedRead[A, R]) answer(w http.ResponseWriter, r *http.Request) {
	if !p.ready {
		// The wait expired (or the read moved away from this agent):
		// answer with what is there now, as a timed-out query does.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		p.out, p.err = p.call(ctx, node.NonBlocking(p.req))
	}
	if p.err != nil {
		writeError(w, p.err)
		return
	}
	v, err := p.show(w, r, p.out)
	respond(w, r, v, err)
}
