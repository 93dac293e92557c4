package tui

// How the console shows what ACLs refuse: the agent's own reason instead
// of the status line around it, and which refusals mean what.

import (
	"errors"
	"net/http"
	"strings"

	"consulx/api"
)

// errText is how the console shows an error. A refusal by ACLs is shown
// as the agent's reason (`Permission denied: token with AccessorID '…'
// lacks permission 'key:write' on "app/x"`): the "Unexpected response
// code: 403" around it tells the operator nothing the reason does not,
// and it pushes the reason out of a line cut to the terminal's width. The
// context a caller wrapped around the error ("service web: …") is kept.
func errText(err error) string {
	if err == nil {
		return ""
	}
	se, reason := deniedReason(err)
	if se == nil {
		return err.Error()
	}
	return strings.Replace(err.Error(), se.Error(), reason, 1)
}

// deniedReason finds a refusal by ACLs in err: the agent's answer and its
// reason on one line (nil, "" when err is no refusal). A 403 is one; so
// is a "Permission denied" relayed with another status (a remote agent's
// refusal of a maintenance toggle comes back as a 500).
func deniedReason(err error) (*api.StatusError, string) {
	var se *api.StatusError
	if !errors.As(err, &se) {
		return nil, ""
	}
	body := oneLine(se.Body)
	if (se.Code == http.StatusForbidden && body != "") || strings.HasPrefix(body, "Permission denied") {
		return se, body
	}
	return nil, ""
}

// isDenied reports that the agent refused err's request for its token
// (a missing permission, or a token it does not know).
func isDenied(err error) bool {
	se, _ := deniedReason(err)
	return se != nil
}

// aclNotFound is the agent's answer to a token it does not know (and,
// from consulx with ACLs off, to a read of the token itself).
func aclNotFound(err error) bool {
	var se *api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusForbidden && strings.TrimSpace(se.Body) == "ACL not found"
}

// aclsDisabled reports Consul's answer to an ACL endpoint on an agent
// without ACLs: 401 "ACL support disabled" (consulx answers the lists
// with nothing instead; see the callers).
func aclsDisabled(err error) bool {
	var se *api.StatusError
	return errors.As(err, &se) && (se.Code == http.StatusUnauthorized || strings.Contains(se.Body, "ACL support disabled"))
}

// permissionDenied reports a refusal for a missing permission (not an
// unknown token).
func permissionDenied(err error) bool {
	_, reason := deniedReason(err)
	return strings.HasPrefix(reason, "Permission denied")
}
