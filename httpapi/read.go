package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"consulx/node"
)

// render sets the headers for a read's result and returns the body to
// encode (nil when it wrote the response itself).
type render[R any] func(w http.ResponseWriter, r *http.Request, out *R) (any, error)

// serveRead answers a read endpoint. A blocking read (?index) that this
// agent answers from its own state, with nothing newer than the index
// yet, is parked (park.go): no goroutine stack or buffers are held while
// it waits. Every other read is an ordinary call.
func serveRead[A, R any](h *Handler, w http.ResponseWriter, r *http.Request, req *A, opts *node.QueryOptions,
	rd node.Reader[A, R], show render[R]) (any, error) {
	if opts.MinIndex > 0 && h.returnConn != nil {
		out, wt, err := rd.Watch(req, nil)
		switch {
		case errors.Is(err, node.ErrNotLocal):
			// the ordinary path below
		case err != nil:
			return nil, err
		case wt == nil:
			return show(w, r, out)
		default:
			deadline := time.Now().Add(h.agent.BlockingWait(opts.MaxWait))
			p := &parkedRead[A, R]{req: req, first: wt, rd: rd, show: show}
			if h.park(w, r, wt, deadline, p) {
				return nil, nil
			}
			wt.Stop()
		}
	}
	out, err := rd.Read(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return show(w, r, out)
}

// parkedRead is one parked blocking read (see parkable).
type parkedRead[A, R any] struct {
	req   *A
	first *node.Watch // the first round's watch: a restore since then answers at once
	rd    node.Reader[A, R]
	show  render[R]

	out   *R // the answer, once recheck found one
	err   error
	ready bool
}

func (p *parkedRead[A, R]) recheck() *node.Watch {
	out, wt, err := p.rd.Watch(p.req, p.first)
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
		p.out, p.err = p.rd.Read(ctx, node.NonBlocking(p.req))
	}
	if p.err != nil {
		writeError(w, p.err)
		return
	}
	v, err := p.show(w, r, p.out)
	respond(w, r, v, err)
}
