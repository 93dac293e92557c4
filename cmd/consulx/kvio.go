package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"consulx/api"
)

// kvExportEntry is Consul's `kv export` format: lower-case keys, base64 values.
type kvExportEntry struct {
	Key   string `json:"key"`
	Flags uint64 `json:"flags"`
	Value string `json:"value"`
}

// runKVExport prints Consul's export format, which is JSON already:
// -format=json is accepted (every data command takes it) and prints the
// same document.
func runKVExport(args []string, env *cliEnv) int {
	cmd := newAPICmd("kv export", env).withFormat().withStale("Allow any server to answer")
	return cmd.run(args, func(x *cmdRun) int {
		if len(x.args()) > 1 {
			return x.errorf("Too many arguments (expected 1 or 0)")
		}
		pairs, _, err := x.client.KVList(x.ctx, strings.TrimPrefix(x.fs.Arg(0), "/"), x.query())
		if err != nil {
			return x.fail("querying Consul agent", err)
		}
		out := make([]kvExportEntry, 0, len(pairs))
		for _, p := range pairs {
			out = append(out, kvExportEntry{Key: p.Key, Flags: p.Flags, Value: base64.StdEncoding.EncodeToString(p.Value)})
		}
		b, err := json.MarshalIndent(out, "", "\t")
		if err != nil {
			return x.errorf("Error exporting KV data: %v", err)
		}
		fmt.Fprintln(x.stdout, string(b))
		return 0
	})
}

func runKVImport(args []string, env *cliEnv) int {
	cmd := newAPICmd("kv import", env)
	prefix := cmd.fs.String("prefix", "", "Prepend this prefix to every imported key")
	return cmd.run(args, func(x *cmdRun) int {
		arg := "-"
		switch len(x.args()) {
		case 0:
		case 1:
			arg = x.args()[0]
		default:
			return x.errorf("Too many arguments (expected 1 or 0)")
		}
		data, err := readData(arg, env.stdin)
		if err != nil {
			return x.errorf("Error! %v", err)
		}
		var entries []kvExportEntry
		if err := json.Unmarshal(data, &entries); err != nil {
			return x.errorf("Cannot unmarshal data: %v", err)
		}
		// Decode everything first: a bad entry must stop the import before
		// anything is written.
		values := make([][]byte, len(entries))
		for i, e := range entries {
			if values[i], err = base64.StdEncoding.DecodeString(e.Value); err != nil {
				return x.errorf("Error base 64 decoding value for key %s: %v", e.Key, err)
			}
		}
		for i, e := range entries {
			// Each write gets its own 30 s: an import can be long.
			ctx, cancel := ctxTimeout()
			key := *prefix + e.Key
			_, err := x.client.KVPut(ctx, &api.KVPair{Key: key, Flags: e.Flags, Value: values[i]}, &api.WriteOptions{Datacenter: x.datacenter()})
			cancel()
			if err != nil {
				return x.errorf("Error! Failed writing data for key %s: %v", key, err)
			}
			fmt.Fprintf(x.stdout, "Imported: %s\n", key)
		}
		return 0
	})
}
