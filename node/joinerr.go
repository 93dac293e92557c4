package node

import (
	"errors"
	"strings"
)

// joinError turns what serf and memberlist return for a failed join (a
// multi-line list of "failed to join ADDR: ..." errors) into one line,
// and says in an operator's words what memberlist's gossip encryption
// errors mean: on a mismatch the agent joined refuses the push/pull and
// answers with an error this agent often cannot even decrypt, so the raw
// text describes the symptom on the wrong side.
func joinError(err error) error {
	if err == nil {
		return nil
	}
	var errs []error
	if m, ok := err.(interface{ WrappedErrors() []error }); ok {
		errs = m.WrappedErrors()
	} else {
		errs = []error{err}
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, explainJoin(e.Error()))
	}
	return errors.New(strings.Join(parts, "; "))
}

// gossipMismatch maps memberlist's texts to their meaning, as this
// agent saw it (local) or as the agent there reported it ("remote error:
// ...", when this agent could read its answer).
var gossipMismatch = []struct{ text, local, remote string }{
	{"remote state is encrypted and encryption is not configured",
		"the agent there uses gossip encryption and this agent has no key: set encrypt to the cluster's key",
		"the agent there does not use gossip encryption and this agent sends encrypted gossip"},
	{"encryption is configured but remote state is not encrypted",
		"the agent there does not use gossip encryption and this agent requires it: remove encrypt, or set encrypt_verify_incoming false while migrating",
		"the agent there requires gossip encryption and this agent sends plain gossip: set encrypt to the cluster's key"},
	{"no installed keys could decrypt the message",
		"gossip encryption key mismatch: no key installed here could decrypt the answer of the agent there",
		"gossip encryption key mismatch: the agent there has no key that could decrypt this agent's gossip"},
}

// remoteErr is how memberlist prefixes an error the other agent sent.
const remoteErr = "remote error: "

// explainJoin rewrites one "failed to join ADDR: cause" line, keeping
// memberlist's own words in parentheses.
func explainJoin(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	for _, m := range gossipMismatch {
		i := strings.Index(msg, m.text)
		if i < 0 {
			continue
		}
		head, says, words := msg[:i], m.local, msg[i:]
		if strings.HasSuffix(head, remoteErr) {
			head, says, words = strings.TrimSuffix(head, remoteErr), m.remote, remoteErr+words
		}
		return head + says + " (" + words + ")"
	}
	return msg
}
