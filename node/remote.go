package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/serf/serf"
)

// maintQuery is the serf query that asks another agent to toggle its
// maintenance (consulx maint -node NAME). Agents answer only queries
// addressed to them; ACLs will gate this once they exist.
const maintQuery = "consulx-maint"

type maintRequest struct {
	ServiceID string
	Enable    bool
	Reason    string
}

// MaintenanceOn toggles maintenance of node (its own when node is "" or
// this agent's name) or of one of its services.
func (a *Agent) MaintenanceOn(ctx context.Context, node, serviceID string, enable bool, reason string) error {
	if node == "" || node == a.cfg.NodeName {
		if serviceID != "" {
			return a.ServiceMaintenance(serviceID, enable, reason)
		}
		return a.NodeMaintenance(enable, reason)
	}
	alive := false
	for _, m := range a.lan.Members() {
		if m.Name == node && m.Status == serf.StatusAlive {
			alive = true
		}
	}
	if !alive {
		return &NotFoundError{Msg: fmt.Sprintf("No alive member named %q", node)}
	}
	payload, _ := json.Marshal(maintRequest{ServiceID: serviceID, Enable: enable, Reason: reason})
	resp, err := a.lan.Query(maintQuery, payload, &serf.QueryParam{FilterNodes: []string{node}, Timeout: 3 * time.Second})
	if err != nil {
		return fmt.Errorf("ask %s: %w", node, err)
	}
	defer resp.Close()
	select {
	case r, ok := <-resp.ResponseCh():
		if !ok {
			return fmt.Errorf("node %s did not answer", node)
		}
		if len(r.Payload) > 0 {
			return errors.New(string(r.Payload))
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(4 * time.Second):
		return fmt.Errorf("node %s did not answer within 4s", node)
	}
}

// handleQuery answers the serf queries this agent understands.
func (a *Agent) handleQuery(q *serf.Query) {
	if q.Name != maintQuery {
		return
	}
	var req maintRequest
	errText := ""
	if err := json.Unmarshal(q.Payload, &req); err != nil {
		errText = "bad maintenance request: " + err.Error()
	} else if err := a.MaintenanceOn(context.Background(), "", req.ServiceID, req.Enable, req.Reason); err != nil {
		errText = err.Error()
	}
	if err := q.Respond([]byte(errText)); err != nil {
		a.logger.Warn("cannot answer maintenance query", "error", err)
	}
}
