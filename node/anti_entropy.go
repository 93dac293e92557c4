package node

// Anti-entropy: the catalog is brought in line with local state at once
// after a change and every antiEntropyInterval, writing only differences.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"consulx/store"
)

// syncLoop keeps the catalog in line with local state: at once after a
// change, and every antiEntropyInterval to repair drift.
func (l *localState) syncLoop() {
	t := time.NewTicker(antiEntropyInterval)
	defer t.Stop()
	reap := time.NewTicker(time.Second)
	defer reap.Stop()
	for {
		select {
		case <-l.deps.stop:
			return
		case <-reap.C:
			l.reapCritical()
			continue
		case <-l.syncCh:
		case <-t.C:
		}
		if err := l.syncOnce(); err != nil {
			l.deps.logger.Debug("anti-entropy sync failed; will retry", "error", err)
			time.AfterFunc(time.Second, l.triggerSync)
		}
	}
}

// syncOnce writes the differences between local state and the catalog.
func (l *localState) syncOnce() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	services, checks := l.Services(), l.Checks()
	cat, err := l.deps.nodeServices(ctx, &NodeServicesRequest{Node: l.deps.nodeName, QueryOptions: QueryOptions{Consistency: ModeStale}})
	if err != nil {
		return err
	}
	if cat.Node == nil {
		// The leader registers the node from gossip; wait for it.
		return fmt.Errorf("node %s not in the catalog yet", l.deps.nodeName)
	}
	catChecks, err := l.deps.nodeChecks(ctx, &ChecksRequest{By: ChecksOfNode, Name: l.deps.nodeName, QueryOptions: QueryOptions{Consistency: ModeStale}})
	if err != nil {
		return err
	}
	remoteSvc := map[string]store.NodeService{}
	for _, s := range cat.Services {
		remoteSvc[s.ID] = s
	}
	remoteChk := map[string]store.HealthCheck{}
	for _, c := range catChecks.Checks {
		remoteChk[c.CheckID] = c
	}
	write := func(req *CatalogWriteRequest) error {
		_, err := l.deps.catalogApply(ctx, req)
		return err
	}
	for id, s := range services {
		r, ok := remoteSvc[id]
		var svcChecks []*store.HealthCheck
		dirty := !ok || !sameService(r, s)
		for _, c := range checks {
			if c.ServiceID == id {
				cc := c
				svcChecks = append(svcChecks, &cc)
				if rc, ok := remoteChk[c.CheckID]; !ok || rc.Status != c.Status || rc.Output != c.Output || rc.Name != c.Name || rc.Notes != c.Notes {
					dirty = true
				}
			}
		}
		if dirty {
			sv := s
			if err := write(&CatalogWriteRequest{Register: &store.RegisterRequest{Node: l.deps.nodeName, SkipNodeUpdate: true, Service: &sv, Checks: svcChecks}}); err != nil {
				return err
			}
		}
	}
	var nodeChecks []*store.HealthCheck
	for _, c := range checks {
		if c.ServiceID != "" {
			continue
		}
		if rc, ok := remoteChk[c.CheckID]; !ok || rc.Status != c.Status || rc.Output != c.Output || rc.Notes != c.Notes || rc.Name != c.Name {
			cc := c
			nodeChecks = append(nodeChecks, &cc)
		}
	}
	if len(nodeChecks) > 0 {
		if err := write(&CatalogWriteRequest{Register: &store.RegisterRequest{Node: l.deps.nodeName, SkipNodeUpdate: true, Checks: nodeChecks}}); err != nil {
			return err
		}
	}
	// Remove what the catalog has and we do not (except what the leader
	// owns: the consul service and serfHealth).
	for id := range remoteSvc {
		if _, ok := services[id]; !ok && id != "consul" {
			if err := write(&CatalogWriteRequest{Deregister: &store.DeregisterRequest{Node: l.deps.nodeName, ServiceID: id}}); err != nil {
				return err
			}
		}
	}
	for id, rc := range remoteChk {
		if _, local := checks[id]; local || id == serfHealthCheck {
			continue
		}
		if _, svcLocal := services[rc.ServiceID]; rc.ServiceID != "" && !svcLocal {
			continue // removed together with its service above
		}
		if err := write(&CatalogWriteRequest{Deregister: &store.DeregisterRequest{Node: l.deps.nodeName, CheckID: id}}); err != nil {
			return err
		}
	}
	return nil
}

func sameService(a, b store.NodeService) bool {
	a.CreateIndex, a.ModifyIndex, b.CreateIndex, b.ModifyIndex = 0, 0, 0, 0
	return sameJSON(a, b)
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
