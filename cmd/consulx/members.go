package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"consulx/api"
)

func runMembers(args []string, env *cliEnv) int {
	fs := newFlagSet("members", env)
	var hf httpFlags
	hf.register(fs)
	detailed := fs.Bool("detailed", false, "Show every member tag")
	wan := fs.Bool("wan", false, "List the WAN pool (servers of all datacenters)")
	status := fs.String("status", ".*", "Only members whose status matches this regular expression")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	re, err := regexp.Compile(*status)
	if err != nil {
		fmt.Fprintf(env.stderr, "Failed to compile status regexp: %v\n", err)
		return 1
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	ms, err := hf.client().Members(ctx, *wan)
	if err != nil {
		return apiError(env.stderr, "retrieving members", err)
	}
	var shown []api.Member
	for _, m := range ms {
		if re.MatchString(api.StatusWord(m.Status)) {
			shown = append(shown, m)
		}
	}
	if len(shown) == 0 {
		return 2
	}
	sortMembers(shown)
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
	fmt.Fprint(env.stdout, columnize(rows))
	return 0
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
