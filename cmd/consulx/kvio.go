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

func runKVExport(args []string, env *cliEnv) int {
	fs := newFlagSet("kv export", env)
	var hf httpFlags
	hf.register(fs)
	stale := fs.Bool("stale", false, "Allow any server to answer")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(env.stderr, "Too many arguments (expected 1 or 0)")
		return 1
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	pairs, _, err := hf.client().KVList(ctx, strings.TrimPrefix(fs.Arg(0), "/"), &api.QueryOptions{Stale: *stale, Datacenter: hf.datacenter})
	if err != nil {
		return apiError(env.stderr, "querying Consul agent", err)
	}
	out := make([]kvExportEntry, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, kvExportEntry{Key: p.Key, Flags: p.Flags, Value: base64.StdEncoding.EncodeToString(p.Value)})
	}
	b, err := json.MarshalIndent(out, "", "\t")
	if err != nil {
		fmt.Fprintf(env.stderr, "Error exporting KV data: %v\n", err)
		return 1
	}
	fmt.Fprintln(env.stdout, string(b))
	return 0
}

func runKVImport(args []string, env *cliEnv) int {
	fs := newFlagSet("kv import", env)
	var hf httpFlags
	hf.register(fs)
	prefix := fs.String("prefix", "", "Prepend this prefix to every imported key")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	arg := "-"
	switch fs.NArg() {
	case 0:
	case 1:
		arg = fs.Arg(0)
	default:
		fmt.Fprintln(env.stderr, "Too many arguments (expected 1 or 0)")
		return 1
	}
	data, err := readData(arg, env.stdin)
	if err != nil {
		fmt.Fprintf(env.stderr, "Error! %v\n", err)
		return 1
	}
	var entries []kvExportEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		fmt.Fprintf(env.stderr, "Cannot unmarshal data: %v\n", err)
		return 1
	}
	// Decode everything first: a bad entry must stop the import before
	// anything is written.
	values := make([][]byte, len(entries))
	for i, e := range entries {
		if values[i], err = base64.StdEncoding.DecodeString(e.Value); err != nil {
			fmt.Fprintf(env.stderr, "Error base 64 decoding value for key %s: %v\n", e.Key, err)
			return 1
		}
	}
	c := hf.client()
	for i, e := range entries {
		ctx, cancel := ctxTimeout()
		key := *prefix + e.Key
		_, err := c.KVPut(ctx, &api.KVPair{Key: key, Flags: e.Flags, Value: values[i]}, &api.WriteOptions{Datacenter: hf.datacenter})
		cancel()
		if err != nil {
			fmt.Fprintf(env.stderr, "Error! Failed writing data for key %s: %v\n", key, err)
			return 1
		}
		fmt.Fprintf(env.stdout, "Imported: %s\n", key)
	}
	return 0
}
