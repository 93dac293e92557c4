package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"consulx/api"
)

// runMembers lists the gossip pool; exit 2 when no member matches. With
// -format=json it prints the matching members as /v1/agent/members returns
// them (Name, Addr, Port, Tags, Status, Protocol*, Delegate*), every tag
// included, in the same order ([] and exit 2 when none match).
func runMembers(args []string, env *cliEnv) int {
	cmd := newAPICmd("members", env).withFormat()
	detailed := cmd.fs.Bool("detailed", false, "Show every member tag")
	wan := cmd.fs.Bool("wan", false, "List the WAN pool (servers of all datacenters)")
	status := cmd.fs.String("status", ".*", "Only members whose status matches this regular expression")
	return cmd.run(args, func(x *cmdRun) int {
		re, err := regexp.Compile(*status)
		if err != nil {
			return x.errorf("Failed to compile status regexp: %v", err)
		}
		ms, err := x.client.Members(x.ctx, *wan)
		if err != nil {
			return x.fail("retrieving members", err)
		}
		shown := []api.Member{}
		for _, m := range ms {
			if re.MatchString(api.StatusWord(m.Status)) {
				shown = append(shown, m)
			}
		}
		sortMembers(shown)
		if len(shown) == 0 {
			if x.json() {
				x.output(shown, nil)
			}
			return 2
		}
		return x.output(shown, func(w io.Writer) {
			var rows [][]string
			if *detailed {
				rows = append(rows, []string{"Node", "Address", "Status", "Tags"})
				for _, m := range shown {
					rows = append(rows, []string{m.Name, memberAddr(m), api.StatusWord(m.Status), tagString(m.Tags)})
				}
			} else {
				rows = append(rows, []string{"Node", "Address", "Status", "Type", "Build", "Protocol", "DC", "Segment"})
				for _, m := range shown {
					rows = append(rows, memberRow(m))
				}
			}
			fmt.Fprint(w, columnize(rows))
		})
	})
}

// sortMembers orders servers first, then by name, as newer Consul does.
func sortMembers(ms []api.Member) {
	sort.SliceStable(ms, func(i, j int) bool {
		si, sj := ms[i].Tags["role"] == "consul", ms[j].Tags["role"] == "consul"
		if si != sj {
			return si
		}
		return ms[i].Name < ms[j].Name
	})
}

func memberAddr(m api.Member) string {
	host := m.Addr
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, m.Port)
}

func memberRow(m api.Member) []string {
	row := []string{m.Name, memberAddr(m), api.StatusWord(m.Status)}
	switch m.Tags["role"] {
	case "consul":
		row = append(row, "server")
	case "node":
		row = append(row, "client")
	default:
		return append(row, "unknown", "", "", "", "")
	}
	build := m.Tags["build"]
	if build == "" {
		build = "< 0.3"
	} else if i := strings.Index(build, ":"); i >= 0 {
		build = build[:i]
	}
	segment := "<default>"
	if m.Tags["role"] == "consul" {
		segment = "<all>"
	} else if s := m.Tags["segment"]; s != "" {
		segment = s
	}
	return append(row, build, m.Tags["vsn"], m.Tags["dc"], segment)
}

func tagString(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	return strings.Join(parts, ",")
}
