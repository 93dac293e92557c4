package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"consulx/api"
	"consulx/internal/testcluster"
)

// TestDemoIsSeeded: `consulx demo` starts with something to look at: an
// app config tree (JSON), a feature-flag folder, a binary value, and
// services with tags and one failing check.
func TestDemoIsSeeded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a demo cluster")
	}
	d, err := launchDemo(demoFlags{servers: 1, clients: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	select {
	case <-d.seeded:
	case <-time.After(testcluster.Scaled(60 * time.Second)):
		t.Fatal("seeding did not end")
	}
	if d.seedErr != nil {
		t.Fatalf("seed: %v", d.seedErr)
	}
	src, _ := d.console()
	c := src.(*api.Client)
	ctx := context.Background()

	keys, _, err := c.KVKeys(ctx, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"app/web/config.json", "app/api/config.json", "features/new-checkout", "features/dark-mode", "assets/logo.png"} {
		if !slices.Contains(keys, want) {
			t.Errorf("no key %s in %v", want, keys)
		}
	}
	cfg, _, err := c.KVGet(ctx, "app/web/config.json", nil)
	if err != nil || cfg == nil || !strings.HasPrefix(string(cfg.Value), "{") {
		t.Errorf("app/web/config.json: %v %+v", err, cfg)
	}
	if logo, _, _ := c.KVGet(ctx, "assets/logo.png", nil); logo == nil || !strings.HasPrefix(string(logo.Value), "\x89PNG") {
		t.Errorf("assets/logo.png is not the binary value: %+v", logo)
	}

	// Services reach the catalog through anti-entropy; billing's check
	// runs against a port nobody listens on.
	testcluster.Eventually(t, 30*time.Second, func() error {
		svcs, _, err := c.CatalogServices(ctx, nil)
		if err != nil {
			return err
		}
		for _, name := range []string{"web", "api", "redis", "billing"} {
			if _, ok := svcs[name]; !ok {
				return fmt.Errorf("no service %s in %v", name, svcs)
			}
		}
		if !slices.Contains(svcs["web"], "canary") || !slices.Contains(svcs["redis"], "cache") {
			return fmt.Errorf("tags missing: %v", svcs)
		}
		bill, _, err := c.HealthService(ctx, "billing", false, nil)
		if err != nil || len(bill) != 1 {
			return fmt.Errorf("billing: %v %v", err, bill)
		}
		failing := false
		for _, ch := range bill[0].Checks {
			failing = failing || (ch.ServiceID == "billing-1" && ch.Status == "critical")
		}
		if !failing {
			return fmt.Errorf("billing's check is not critical: %+v", bill[0].Checks)
		}
		web, _, err := c.HealthService(ctx, "web", true, nil)
		if err != nil || len(web) != 2 {
			return fmt.Errorf("want 2 passing web instances: %v %d", err, len(web))
		}
		return nil
	})
}
