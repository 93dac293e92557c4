package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"consulx/api"
)

func runKV(args []string, env *cliEnv) int {
	return dispatch("kv", []subcommand{{"get", runKVGet}, {"put", runKVPut}, {"delete", runKVDelete},
		{"export", runKVExport}, {"import", runKVImport}}, args, env)
}

// runKVGet prints a key's value, a prefix's keys (-keys) or entries
// (-recurse). With -format=json it prints what /v1/kv returns: the entry
// (Key, CreateIndex, ModifyIndex, LockIndex, Flags, Value in base64,
// Session), an array of entries with -recurse, an array of key names with
// -keys; -base64 and -detailed change nothing there.
func runKVGet(args []string, env *cliEnv) int {
	cmd := newAPICmd("kv get", env).withFormat().withStale("Allow any server to answer")
	b64 := cmd.fs.Bool("base64", false, "Print values base64-encoded")
	detailed := cmd.fs.Bool("detailed", false, "Print every field of the entry")
	keys := cmd.fs.Bool("keys", false, "List key names under the prefix")
	recurse := cmd.fs.Bool("recurse", false, "Print every key under the prefix as key:value")
	sep := cmd.fs.String("separator", "/", "With -keys, fold keys at this separator (\"\" to list all)")
	return cmd.run(args, func(x *cmdRun) int {
		key := ""
		switch len(x.args()) {
		case 0:
		case 1:
			key = strings.TrimPrefix(x.args()[0], "/")
		default:
			return x.errorf("Too many arguments (expected 1, got more)")
		}
		if key == "" && !*keys && !*recurse {
			return x.errorf("Error! Missing KEY argument")
		}
		value := func(v []byte) string {
			if *b64 {
				return base64.StdEncoding.EncodeToString(v)
			}
			return string(v)
		}
		switch {
		case *keys:
			ks, _, err := x.client.KVKeys(x.ctx, key, *sep, x.query())
			if err != nil {
				return x.fail("querying Consul agent", err)
			}
			if ks == nil {
				ks = []string{}
			}
			return x.output(ks, func(w io.Writer) {
				for _, k := range ks {
					fmt.Fprintln(w, k)
				}
			})
		case *recurse:
			ps, _, err := x.client.KVList(x.ctx, key, x.query())
			if err != nil {
				return x.fail("querying Consul agent", err)
			}
			if ps == nil {
				ps = []*api.KVPair{}
			}
			return x.output(ps, func(w io.Writer) {
				for i, p := range ps {
					if *detailed {
						if i > 0 {
							fmt.Fprintln(w)
						}
						printDetailed(w, p, value)
						continue
					}
					fmt.Fprintf(w, "%s:%s\n", p.Key, value(p.Value))
				}
			})
		}
		p, _, err := x.client.KVGet(x.ctx, key, x.query())
		if err != nil {
			return x.fail("querying Consul agent", err)
		}
		if p == nil {
			return x.errorf("Error! No key exists at: %s", key)
		}
		return x.output(p, func(w io.Writer) {
			if *detailed {
				printDetailed(w, p, value)
			} else {
				fmt.Fprintln(w, value(p.Value))
			}
		})
	})
}

func printDetailed(w io.Writer, p *api.KVPair, value func([]byte) string) {
	tw := tabwriter.NewWriter(w, 0, 2, 6, ' ', 0)
	session := p.Session
	if session == "" {
		session = "-"
	}
	fmt.Fprintf(tw, "CreateIndex\t%d\n", p.CreateIndex)
	fmt.Fprintf(tw, "Flags\t%d\n", p.Flags)
	fmt.Fprintf(tw, "Key\t%s\n", p.Key)
	fmt.Fprintf(tw, "LockIndex\t%d\n", p.LockIndex)
	fmt.Fprintf(tw, "ModifyIndex\t%d\n", p.ModifyIndex)
	fmt.Fprintf(tw, "Session\t%s\n", session)
	fmt.Fprintf(tw, "Value\t%s\n", value(p.Value))
	tw.Flush()
}

// readData resolves the data argument: a literal, @file, or - for stdin.
func readData(arg string, stdin io.Reader) ([]byte, error) {
	switch {
	case arg == "-":
		return io.ReadAll(stdin)
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return nil, fmt.Errorf("Failed to read file: %w", err)
		}
		return b, nil
	}
	return []byte(arg), nil
}

func runKVPut(args []string, env *cliEnv) int {
	cmd := newAPICmd("kv put", env)
	flags := cmd.fs.Uint64("flags", 0, "Opaque unsigned integer stored with the value")
	cas := cmd.fs.Bool("cas", false, "Check-and-set: write only if the key's ModifyIndex equals -modify-index")
	modIdx := cmd.fs.Uint64("modify-index", 0, "ModifyIndex for -cas (0: only if the key does not exist)")
	b64 := cmd.fs.Bool("base64", false, "The data is base64-encoded")
	acquire := cmd.fs.Bool("acquire", false, "Obtain a lock on the key (needs -session)")
	release := cmd.fs.Bool("release", false, "Release the lock on the key (needs -session)")
	session := cmd.fs.String("session", "", "Session ID for -acquire and -release")
	return cmd.run(args, func(x *cmdRun) int {
		if (*acquire || *release) && *session == "" {
			return x.errorf("Error! Missing -session (required with -acquire and -release)")
		}
		if *acquire && *release || (*cas && (*acquire || *release)) {
			return x.errorf("Error! Only one of -cas, -acquire and -release may be given")
		}
		switch n := len(x.args()); {
		case n == 0:
			return x.errorf("Error! Missing KEY argument")
		case n > 2:
			return x.errorf("Too many arguments (expected 1 or 2)")
		}
		if x.flagSet("modify-index") && !*cas {
			return x.errorf("Cannot specify -modify-index without -cas!")
		}
		key := strings.TrimPrefix(x.args()[0], "/")
		var data []byte
		if len(x.args()) == 2 {
			var err error
			if data, err = readData(x.args()[1], env.stdin); err != nil {
				return x.errorf("Error! %v", err)
			}
			if *b64 {
				if data, err = base64.StdEncoding.DecodeString(string(data)); err != nil {
					return x.errorf("Error! Cannot base 64 decode data: %v", err)
				}
			}
		}
		pair := &api.KVPair{Key: key, Value: data, Flags: *flags, ModifyIndex: *modIdx}
		if *acquire || *release {
			pair.Session = *session
			verb, op := "release", x.client.KVRelease
			if *acquire {
				verb, op = "acquire", x.client.KVAcquire
			}
			ok, err := op(x.ctx, pair)
			if err != nil {
				return x.errorf("Error! Failed writing data: %v", err)
			}
			if !ok {
				return x.errorf("Error! Did not %s lock", verb)
			}
			fmt.Fprintf(x.stdout, "Success! Lock %sd on: %s\n", verb, key)
			return 0
		}
		ok, err := x.client.KVPut(x.ctx, pair, &api.WriteOptions{CAS: *cas, Datacenter: x.datacenter()})
		if err != nil {
			return x.errorf("Error! Failed writing data: %v", err)
		}
		if !ok {
			return x.errorf("Error! Did not write to %s: CAS failed", key)
		}
		fmt.Fprintf(x.stdout, "Success! Data written to: %s\n", key)
		return 0
	})
}

func runKVDelete(args []string, env *cliEnv) int {
	cmd := newAPICmd("kv delete", env)
	cas := cmd.fs.Bool("cas", false, "Delete only if the key's ModifyIndex equals -modify-index")
	modIdx := cmd.fs.Uint64("modify-index", 0, "ModifyIndex for -cas")
	recurse := cmd.fs.Bool("recurse", false, "Delete every key under the prefix")
	return cmd.run(args, func(x *cmdRun) int {
		if len(x.args()) > 1 {
			return x.errorf("Too many arguments (expected 1)")
		}
		key := strings.TrimPrefix(x.fs.Arg(0), "/")
		switch {
		case *cas && *recurse:
			return x.errorf("Cannot specify both -cas and -recurse!")
		case x.flagSet("modify-index") && !*cas:
			return x.errorf("Cannot specify -modify-index without -cas!")
		case key == "" && !*recurse:
			return x.errorf("Error! Missing KEY argument")
		}
		if *recurse {
			if _, err := x.client.KVDeleteTree(x.ctx, key); err != nil {
				return x.errorf("Error! Did not delete prefix %s: %v", key, err)
			}
			fmt.Fprintf(x.stdout, "Success! Deleted keys with prefix: %s\n", key)
			return 0
		}
		var casIdx *uint64
		if *cas {
			casIdx = modIdx
		}
		ok, err := x.client.KVDelete(x.ctx, key, casIdx)
		if err != nil {
			return x.errorf("Error! Did not delete key %s: %v", key, err)
		}
		if !ok {
			return x.errorf("Error! Did not delete key %s: CAS failed", key)
		}
		fmt.Fprintf(x.stdout, "Success! Deleted key: %s\n", key)
		return 0
	})
}
