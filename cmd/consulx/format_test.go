package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"consulx/internal/testcluster"
	"consulx/node"
)

// jsonCLI runs a command that should print JSON, checks it exits 0 with
// nothing on stderr, and decodes stdout into out.
func jsonCLI(t *testing.T, addr string, out any, args ...string) {
	t.Helper()
	stdout, stderr, code := runCLI(t, addr, "", args...)
	if code != 0 || stderr != "" {
		t.Fatalf("consulx %s: exit %d stderr %q stdout %q", strings.Join(args, " "), code, stderr, stdout)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("consulx %s: not JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// hasFields fails unless obj carries every one of Consul's field names.
func hasFields(t *testing.T, what string, obj map[string]any, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := obj[n]; !ok {
			t.Errorf("%s lacks field %q: %v", what, n, obj)
		}
	}
}

func TestFormatJSON(t *testing.T) {
	c := testcluster.StartCluster(t, 1, 1)
	srv, cl := c.Servers[0], c.Clients[0]
	addr := cl.HTTPAddr()
	testcluster.Eventually(t, 10*time.Second, func() error {
		out, _, _ := runCLI(t, addr, "", "members")
		if strings.Count(out, "alive") != 2 {
			return fmt.Errorf("members:\n%s", out)
		}
		out, _, _ = runCLI(t, addr, "", "catalog", "nodes", "-service", "consul")
		if !strings.Contains(out, "server-1") {
			return fmt.Errorf("catalog nodes -service consul:\n%s", out)
		}
		return nil
	})

	t.Run("members", func(t *testing.T) {
		var ms []map[string]any
		jsonCLI(t, addr, &ms, "members", "-format=json")
		var names []string
		for _, m := range ms {
			hasFields(t, "member", m, "Name", "Addr", "Port", "Tags", "Status", "ProtocolMin", "ProtocolMax", "ProtocolCur", "DelegateMin", "DelegateMax", "DelegateCur")
			names = append(names, fmt.Sprint(m["Name"]))
			if m["Status"] != float64(1) {
				t.Errorf("member %v: Status %v, want 1 (alive)", m["Name"], m["Status"])
			}
		}
		// Same order as the pretty form: servers first.
		if strings.Join(names, ",") != "server-1,client-1" {
			t.Errorf("members %v, want server-1, client-1", names)
		}
		if tags, _ := ms[0]["Tags"].(map[string]any); tags["role"] != "consul" {
			t.Errorf("server's tags %v lack role=consul", ms[0]["Tags"])
		}
		// -detailed changes nothing in JSON: every tag is there already.
		detailed, _, _ := runCLI(t, addr, "", "members", "-format=json", "-detailed")
		plain, _, _ := runCLI(t, addr, "", "members", "-format=json")
		if detailed != plain {
			t.Errorf("-detailed changed the JSON:\n%s\n%s", detailed, plain)
		}
	})
	t.Run("members none match: [] and exit 2", func(t *testing.T) {
		out, errOut, code := runCLI(t, addr, "", "members", "-format=json", "-status=failed")
		if code != 2 || errOut != "" || strings.TrimSpace(out) != "[]" {
			t.Fatalf("exit %d stdout %q stderr %q; want exit 2 and []", code, out, errOut)
		}
	})
	t.Run("format=pretty is the default output", func(t *testing.T) {
		for _, args := range [][]string{{"members"}, {"operator", "raft", "list-peers"}, {"catalog", "services"}} {
			def, _, _ := runCLI(t, addr, "", args...)
			pretty, _, _ := runCLI(t, addr, "", append(args, "-format=pretty")...)
			if def == "" || def != pretty {
				t.Errorf("consulx %s: -format=pretty %q differs from the default %q", strings.Join(args, " "), pretty, def)
			}
		}
	})
	t.Run("info", func(t *testing.T) {
		var stats map[string]map[string]string
		jsonCLI(t, srv.HTTPAddr(), &stats, "info", "-format=json")
		if stats["raft"]["state"] != "Leader" || stats["consul"]["leader"] != "true" {
			t.Errorf("info: raft %v consul %v", stats["raft"], stats["consul"])
		}
		for _, sec := range []string{"agent", "build", "runtime", "serf_lan"} {
			if len(stats[sec]) == 0 {
				t.Errorf("info lacks section %s", sec)
			}
		}
	})
	t.Run("operator raft list-peers", func(t *testing.T) {
		var servers []map[string]any
		jsonCLI(t, addr, &servers, "operator", "raft", "list-peers", "-format=json")
		if len(servers) != 1 {
			t.Fatalf("servers %v", servers)
		}
		hasFields(t, "raft server", servers[0], "ID", "Node", "Address", "Leader", "Voter", "ProtocolVersion")
		if servers[0]["Node"] != "server-1" || servers[0]["Leader"] != true || servers[0]["Voter"] != true {
			t.Errorf("raft server %v", servers[0])
		}
		jsonCLI(t, addr, &servers, "operator", "raft", "list-peers", "-stale", "-format=json")
		if len(servers) != 1 {
			t.Errorf("-stale: servers %v", servers)
		}
	})
	t.Run("kv", func(t *testing.T) {
		runCLI(t, addr, "", "kv", "put", "-flags", "7", "fmt/a", "alpha")
		runCLI(t, addr, "", "kv", "put", "fmt/sub/b", "<b&>")
		var e map[string]any
		jsonCLI(t, addr, &e, "kv", "get", "-format=json", "fmt/a")
		hasFields(t, "kv entry", e, "Key", "Flags", "Value", "CreateIndex", "ModifyIndex", "LockIndex")
		if e["Key"] != "fmt/a" || e["Value"] != "YWxwaGE=" || e["Flags"] != float64(7) {
			t.Errorf("kv get: %v", e)
		}
		if idx, _ := e["ModifyIndex"].(float64); idx == 0 {
			t.Errorf("kv get: ModifyIndex %v", e["ModifyIndex"])
		}
		// -base64 and -detailed do not change the JSON form.
		var e2 map[string]any
		jsonCLI(t, addr, &e2, "kv", "get", "-format=json", "-base64", "-detailed", "fmt/a")
		if fmt.Sprint(e2) != fmt.Sprint(e) {
			t.Errorf("-base64 -detailed changed the entry: %v vs %v", e2, e)
		}
		var list []struct {
			Key   string
			Value []byte
		}
		jsonCLI(t, addr, &list, "kv", "get", "-format=json", "-recurse", "fmt/")
		if len(list) != 2 || list[0].Key != "fmt/a" || string(list[0].Value) != "alpha" || list[1].Key != "fmt/sub/b" || string(list[1].Value) != "<b&>" {
			t.Errorf("kv get -recurse: %+v", list)
		}
		var keys []string
		jsonCLI(t, addr, &keys, "kv", "get", "-format=json", "-keys", "fmt/")
		if strings.Join(keys, " ") != "fmt/a fmt/sub/" {
			t.Errorf("kv get -keys: %v", keys)
		}
		for _, args := range [][]string{{"-recurse", "absent/"}, {"-keys", "absent/"}} {
			out, _, code := runCLI(t, addr, "", append([]string{"kv", "get", "-format=json"}, args...)...)
			if code != 0 || strings.TrimSpace(out) != "[]" {
				t.Errorf("kv get %v on nothing: exit %d %q, want []", args, code, out)
			}
		}
		out, errOut, code := runCLI(t, addr, "", "kv", "get", "-format=json", "fmt/nope")
		if code != 1 || out != "" || errOut != "Error! No key exists at: fmt/nope\n" {
			t.Errorf("missing key: exit %d stdout %q stderr %q", code, out, errOut)
		}
		var exported []kvExportEntry
		jsonCLI(t, addr, &exported, "kv", "export", "-format=json", "fmt/")
		if len(exported) != 2 || exported[0].Key != "fmt/a" || exported[0].Value != "YWxwaGE=" || exported[0].Flags != 7 {
			t.Errorf("kv export: %+v", exported)
		}
	})
	t.Run("catalog", func(t *testing.T) {
		var services map[string][]string
		jsonCLI(t, addr, &services, "catalog", "services", "-format=json")
		if _, ok := services["consul"]; !ok {
			t.Errorf("catalog services: %v", services)
		}
		var nodes []map[string]any
		jsonCLI(t, addr, &nodes, "catalog", "nodes", "-format=json")
		var names []string
		for _, n := range nodes {
			hasFields(t, "catalog node", n, "ID", "Node", "Address", "Datacenter")
			names = append(names, fmt.Sprint(n["Node"]))
		}
		sort.Strings(names)
		if strings.Join(names, " ") != "client-1 server-1" {
			t.Errorf("catalog nodes: %v", names)
		}
		jsonCLI(t, addr, &nodes, "catalog", "nodes", "-format=json", "-service", "consul")
		if len(nodes) != 1 || nodes[0]["Node"] != "server-1" {
			t.Errorf("catalog nodes -service consul: %v", nodes)
		}
		out, errOut, code := runCLI(t, addr, "", "catalog", "nodes", "-format=json", "-service", "ghost")
		if code != 0 || errOut != "" || strings.TrimSpace(out) != "[]" {
			t.Errorf("catalog nodes -service ghost: exit %d stdout %q stderr %q", code, out, errOut)
		}
		var dcs []string
		jsonCLI(t, addr, &dcs, "catalog", "datacenters", "-format=json")
		if len(dcs) != 1 || dcs[0] != "dc1" {
			t.Errorf("catalog datacenters: %v", dcs)
		}
	})
	t.Run("maint", func(t *testing.T) {
		var m map[string]any
		jsonCLI(t, addr, &m, "maint", "-format=json")
		if _, ok := m["Node"]; ok || fmt.Sprint(m["Services"]) != "[]" {
			t.Errorf("maint with nothing in maintenance: %v", m)
		}
		runCLI(t, addr, "", "maint", "-enable", "-reason", "kernel upgrade")
		defer runCLI(t, addr, "", "maint", "-disable")
		var list maintList
		jsonCLI(t, addr, &list, "maint", "-format=json")
		if list.Node == nil || list.Node.Name != "client-1" || list.Node.Reason != "kernel upgrade" || len(list.Services) != 0 {
			t.Errorf("maint: %+v", list)
		}
	})
	t.Run("snapshot inspect", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "backup.snap")
		if out, errOut, code := runCLI(t, srv.HTTPAddr(), "", "snapshot", "save", file); code != 0 {
			t.Fatalf("snapshot save: exit %d %q %q", code, out, errOut)
		}
		var doc struct{ Meta map[string]any }
		jsonCLI(t, "", &doc, "snapshot", "inspect", "-format=json", file)
		hasFields(t, "snapshot meta", doc.Meta, "ID", "Size", "Index", "Term", "Version")
		if idx, _ := doc.Meta["Index"].(float64); idx == 0 || doc.Meta["ID"] == "" {
			t.Errorf("snapshot inspect: %v", doc.Meta)
		}
	})
	t.Run("version", func(t *testing.T) {
		var v map[string]any
		jsonCLI(t, "", &v, "version", "-format=json")
		hasFields(t, "version", v, "Version", "Revision", "Prerelease", "RPC")
		if v["Version"] != node.Version {
			t.Errorf("version %v, want %s", v["Version"], node.Version)
		}
		if rpc, _ := v["RPC"].(map[string]any); rpc["Default"] != float64(2) || rpc["Max"] != float64(3) {
			t.Errorf("version RPC %v", v["RPC"])
		}
	})
	t.Run("bad -format: one line, exit 1, nothing done", func(t *testing.T) {
		want := "Invalid format \"bogus\": must be \"pretty\" or \"json\"\n"
		// -format=bogus goes after the command words, before any operand.
		for _, args := range [][]string{
			{"members", "-format=bogus"}, {"info", "-format=bogus"}, {"operator", "raft", "list-peers", "-format=bogus"},
			{"kv", "get", "-format=bogus", "fmt/a"}, {"kv", "export", "-format=bogus"},
			{"catalog", "services", "-format=bogus"}, {"catalog", "nodes", "-format=bogus"}, {"catalog", "datacenters", "-format=bogus"},
			{"maint", "-format=bogus"}, {"maint", "-enable", "-reason", "must not happen", "-format=bogus"},
			{"snapshot", "inspect", "-format=bogus", "nofile"}, {"version", "-format=bogus"},
		} {
			a := addr
			if args[0] == "version" || args[0] == "snapshot" {
				a = ""
			}
			out, errOut, code := runCLI(t, a, "", args...)
			if code != 1 || out != "" || errOut != want {
				t.Errorf("consulx %s: exit %d stdout %q stderr %q; want exit 1 and %q",
					strings.Join(args, " "), code, out, errOut, want)
			}
		}
		// maint -enable with a bad format changed nothing.
		checks, err := cl.Client().AgentChecks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := checks[node.NodeMaintCheckID]; ok {
			t.Error("maint -enable -format=bogus put the node in maintenance")
		}
		// Commands that print only a success line have no -format.
		_, errOut, code := runCLI(t, addr, "", "kv", "put", "-format=bogus", "fmt/c", "x")
		if code != 1 || !strings.HasPrefix(errOut, "flag provided but not defined: -format\n") {
			t.Errorf("kv put -format: exit %d stderr %q", code, errOut)
		}
		if p, _, err := cl.Client().KVGet(context.Background(), "fmt/c", nil); err != nil || p != nil {
			t.Errorf("kv put -format=bogus wrote the key: %v %v", p, err)
		}
	})
}
