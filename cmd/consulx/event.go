package main

import (
	"fmt"

	"consulx/api"
)

// runEvent fires a user event, as `consul event` does.
func runEvent(args []string, env *cliEnv) int {
	cmd := newAPICmd("event", env)
	name := cmd.fs.String("name", "", "Name of the event")
	node := cmd.fs.String("node", "", "Regular expression to filter on node names")
	service := cmd.fs.String("service", "", "Regular expression to filter on service names")
	tag := cmd.fs.String("tag", "", "Regular expression to filter on service tags (needs -service)")
	return cmd.run(args, func(x *cmdRun) int {
		switch {
		case *name == "":
			return x.errorf("Event name must be specified")
		case len(x.args()) > 1:
			return x.errorf("Too many command line arguments.")
		case *tag != "" && *service == "":
			return x.errorf("Cannot provide tag filter without service filter.")
		}
		ev := &api.UserEvent{Name: *name, NodeFilter: *node, ServiceFilter: *service, TagFilter: *tag}
		if len(x.args()) == 1 {
			ev.Payload = []byte(x.args()[0])
		}
		out, err := x.client.EventFire(x.ctx, ev, x.datacenter())
		if err != nil {
			return x.fail("firing event", err)
		}
		fmt.Fprintf(x.stdout, "Event ID: %s\n", out.ID)
		return 0
	})
}
