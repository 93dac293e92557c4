package node

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-uuid"

	"consulx/acl"
	"consulx/store"
)

// SessionWriteRequest creates or destroys a session.
type SessionWriteRequest struct {
	Op      store.SessionOp
	Session store.Session
	WriteOptions
}

// SessionWriteResponse returns the session ID (create) and the index.
type SessionWriteResponse struct {
	ID    string
	Index uint64
}

// SessionReadRequest is info (ID set), node (Node set) or list.
type SessionReadRequest struct {
	ID   string
	Node string
	QueryOptions
}

// SessionReadResponse lists sessions.
type SessionReadResponse struct {
	Sessions []store.Session
	QueryMeta
}

// SessionRenewRequest resets a session's TTL timer.
type SessionRenewRequest struct {
	ID string
	WriteOptions
}

var sessionApplyEndpoint = &endpoint[SessionWriteRequest, SessionWriteResponse]{
	name: "Session.Apply", kind: writeEndpoint,
	authorize: func(s *server, z acl.Authorizer, req *SessionWriteRequest) error {
		n := req.Session.Node
		if req.Op != store.SessionCreate {
			n = s.sessionNode(req.Session.ID)
		}
		return allowOrDeny(z.SessionWrite(n), z, "session:write", n)
	},
	leader: func(s *server, _ context.Context, req *SessionWriteRequest) (*SessionWriteResponse, error) {
		sess := req.Session
		if req.Op == store.SessionCreate {
			if err := s.validateSession(&sess); err != nil {
				return nil, err
			}
			for {
				id, err := uuid.GenerateUUID()
				if err != nil {
					return nil, err
				}
				if existing, _, _ := s.store.SessionGet(id); existing == nil {
					sess.ID = id
					break
				}
			}
		} else if sess.ID == "" {
			return nil, &BadRequestError{Msg: "Missing session"}
		}
		_, idx, err := s.raftApply(store.SessionCommand, &store.SessionRequest{Op: req.Op, Session: sess})
		if err != nil {
			return nil, err
		}
		if req.Op == store.SessionCreate {
			s.resetSessionTimer(&sess)
		} else {
			s.sessionTimers.clear(sess.ID)
		}
		return &SessionWriteResponse{ID: sess.ID, Index: idx}, nil
	},
}

// sessionRenewEndpoint resets a TTL timer on the leader; nothing enters Raft.
var sessionRenewEndpoint = &endpoint[SessionRenewRequest, SessionReadResponse]{
	name: "Session.Renew", kind: writeEndpoint,
	authorize: func(s *server, z acl.Authorizer, req *SessionRenewRequest) error {
		n := s.sessionNode(req.ID)
		return allowOrDeny(z.SessionWrite(n), z, "session:write", n)
	},
	leader: func(s *server, _ context.Context, req *SessionRenewRequest) (*SessionReadResponse, error) {
		sess, idx, err := s.store.SessionGet(req.ID)
		if err != nil {
			return nil, err
		}
		if sess == nil {
			return nil, &NotFoundError{Msg: fmt.Sprintf("Session id '%s' not found", req.ID)}
		}
		s.resetSessionTimer(sess)
		return &SessionReadResponse{Sessions: []store.Session{*sess}, QueryMeta: s.meta(idx)}, nil
	},
}

var sessionReadEndpoint = &endpoint[SessionReadRequest, SessionReadResponse]{
	name: "Session.Read", kind: readEndpoint,
	filter: func(z acl.Authorizer, _ *SessionReadRequest, resp *SessionReadResponse) (bool, error) {
		return filterSlice(&resp.Sessions, func(s *store.Session) bool { return z.SessionRead(s.Node) }), nil
	},
	read: func(s *server, req *SessionReadRequest, arm *watchArm) (*SessionReadResponse, uint64, error) {
		arm.Sessions()
		out := &SessionReadResponse{Sessions: []store.Session{}}
		var idx uint64
		var err error
		if req.ID != "" {
			var sess *store.Session
			sess, idx, err = s.store.SessionGet(req.ID)
			if sess != nil {
				out.Sessions = append(out.Sessions, *sess)
			}
		} else {
			out.Sessions, idx, err = s.store.SessionList(req.Node)
		}
		return out, idx, err
	},
}

// SessionApply creates or destroys a session.
func (a *Agent) SessionApply(ctx context.Context, req *SessionWriteRequest) (*SessionWriteResponse, error) {
	return sessionApplyEndpoint.call(ctx, a, req)
}

// SessionRenew renews a session's TTL.
func (a *Agent) SessionRenew(ctx context.Context, req *SessionRenewRequest) (*SessionReadResponse, error) {
	return sessionRenewEndpoint.call(ctx, a, req)
}

// sessionNode is the node a session belongs to ("" when unknown: a
// token allowed on every node may still destroy what does not exist).
func (s *server) sessionNode(id string) string {
	sess, _, err := s.store.SessionGet(id)
	if err != nil || sess == nil {
		return ""
	}
	return sess.Node
}
