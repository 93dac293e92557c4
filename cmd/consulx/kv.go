package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"consulx/api"
)

func runKV(args []string, env *cliEnv) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "Usage: consulx kv <get|put|delete|export|import> [options] [args]")
		return 1
	}
	switch args[0] {
	case "get":
		return runKVGet(args[1:], env)
	case "put":
		return runKVPut(args[1:], env)
	case "delete":
		return runKVDelete(args[1:], env)
	case "export":
		return runKVExport(args[1:], env)
	case "import":
		return runKVImport(args[1:], env)
	}
	fmt.Fprintf(env.stderr, "kv: unknown subcommand %q (get, put, delete, export, import)\n", args[0])
	return 1
}

func runKVGet(args []string, env *cliEnv) int {
	fs := newFlagSet("kv get", env)
	var hf httpFlags
	hf.register(fs)
	b64 := fs.Bool("base64", false, "Print values base64-encoded")
	detailed := fs.Bool("detailed", false, "Print every field of the entry")
	keys := fs.Bool("keys", false, "List key names under the prefix")
	recurse := fs.Bool("recurse", false, "Print every key under the prefix as key:value")
	sep := fs.String("separator", "/", "With -keys, fold keys at this separator (\"\" to list all)")
	stale := fs.Bool("stale", false, "Allow any server to answer")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	key := ""
	switch fs.NArg() {
	case 0:
	case 1:
		key = strings.TrimPrefix(fs.Arg(0), "/")
	default:
		fmt.Fprintln(env.stderr, "Too many arguments (expected 1, got more)")
		return 1
	}
	if key == "" && !*keys && !*recurse {
		fmt.Fprintln(env.stderr, "Error! Missing KEY argument")
		return 1
	}
	q := &api.QueryOptions{Stale: *stale, Datacenter: hf.datacenter}
	c := hf.client()
	ctx, cancel := ctxTimeout()
	defer cancel()
	value := func(v []byte) string {
		if *b64 {
			return base64.StdEncoding.EncodeToString(v)
		}
		return string(v)
	}
	switch {
	case *keys:
		ks, _, err := c.KVKeys(ctx, key, *sep, q)
		if err != nil {
			return apiError(env.stderr, "querying Consul agent", err)
		}
		for _, k := range ks {
			fmt.Fprintln(env.stdout, k)
		}
	case *recurse:
		ps, _, err := c.KVList(ctx, key, q)
		if err != nil {
			return apiError(env.stderr, "querying Consul agent", err)
		}
		for i, p := range ps {
			if *detailed {
				if i > 0 {
					fmt.Fprintln(env.stdout)
				}
				printDetailed(env.stdout, p, value)
				continue
			}
			fmt.Fprintf(env.stdout, "%s:%s\n", p.Key, value(p.Value))
		}
	default:
		p, _, err := c.KVGet(ctx, key, q)
		if err != nil {
			return apiError(env.stderr, "querying Consul agent", err)
		}
		if p == nil {
			fmt.Fprintf(env.stderr, "Error! No key exists at: %s\n", key)
			return 1
		}
		if *detailed {
			printDetailed(env.stdout, p, value)
		} else {
			fmt.Fprintln(env.stdout, value(p.Value))
		}
	}
	return 0
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
	fs := newFlagSet("kv put", env)
	var hf httpFlags
	hf.register(fs)
	flags := fs.Uint64("flags", 0, "Opaque unsigned integer stored with the value")
	cas := fs.Bool("cas", false, "Check-and-set: write only if the key's ModifyIndex equals -modify-index")
	modIdx := fs.Uint64("modify-index", 0, "ModifyIndex for -cas (0: only if the key does not exist)")
	b64 := fs.Bool("base64", false, "The data is base64-encoded")
	acquire := fs.Bool("acquire", false, "Obtain a lock on the key (needs -session)")
	release := fs.Bool("release", false, "Release the lock on the key (needs -session)")
	session := fs.String("session", "", "Session ID for -acquire and -release")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if (*acquire || *release) && *session == "" {
		fmt.Fprintln(env.stderr, "Error! Missing -session (required with -acquire and -release)")
		return 1
	}
	if *acquire && *release || (*cas && (*acquire || *release)) {
		fmt.Fprintln(env.stderr, "Error! Only one of -cas, -acquire and -release may be given")
		return 1
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(env.stderr, "Error! Missing KEY argument")
		return 1
	}
	if fs.NArg() > 2 {
		fmt.Fprintln(env.stderr, "Too many arguments (expected 1 or 2)")
		return 1
	}
	modSet := false
	fs.Visit(func(f *flag.Flag) { modSet = modSet || f.Name == "modify-index" })
	if modSet && !*cas {
		fmt.Fprintln(env.stderr, "Cannot specify -modify-index without -cas!")
		return 1
	}
	key := strings.TrimPrefix(fs.Arg(0), "/")
	var data []byte
	if fs.NArg() == 2 {
		var err error
		if data, err = readData(fs.Arg(1), env.stdin); err != nil {
			fmt.Fprintf(env.stderr, "Error! %v\n", err)
			return 1
		}
		if *b64 {
			if data, err = base64.StdEncoding.DecodeString(string(data)); err != nil {
				fmt.Fprintf(env.stderr, "Error! Cannot base 64 decode data: %v\n", err)
				return 1
			}
		}
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	pair := &api.KVPair{Key: key, Value: data, Flags: *flags, ModifyIndex: *modIdx}
	c := hf.client()
	switch {
	case *acquire || *release:
		pair.Session = *session
		var ok bool
		var err error
		if *acquire {
			ok, err = c.KVAcquire(ctx, pair)
		} else {
			ok, err = c.KVRelease(ctx, pair)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "Error! Failed writing data: %v\n", err)
			return 1
		}
		verb := map[bool]string{true: "acquire", false: "release"}[*acquire]
		if !ok {
			fmt.Fprintf(env.stderr, "Error! Did not %s lock\n", verb)
			return 1
		}
		fmt.Fprintf(env.stdout, "Success! Lock %sd on: %s\n", map[bool]string{true: "acquire", false: "release"}[*acquire], key)
		return 0
	}
	ok, err := c.KVPut(ctx, pair, &api.WriteOptions{CAS: *cas, Datacenter: hf.datacenter})
	if err != nil {
		fmt.Fprintf(env.stderr, "Error! Failed writing data: %v\n", err)
		return 1
	}
	if !ok {
		fmt.Fprintf(env.stderr, "Error! Did not write to %s: CAS failed\n", key)
		return 1
	}
	fmt.Fprintf(env.stdout, "Success! Data written to: %s\n", key)
	return 0
}

func runKVDelete(args []string, env *cliEnv) int {
	fs := newFlagSet("kv delete", env)
	var hf httpFlags
	hf.register(fs)
	cas := fs.Bool("cas", false, "Delete only if the key's ModifyIndex equals -modify-index")
	modIdx := fs.Uint64("modify-index", 0, "ModifyIndex for -cas")
	recurse := fs.Bool("recurse", false, "Delete every key under the prefix")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(env.stderr, "Too many arguments (expected 1)")
		return 1
	}
	key := strings.TrimPrefix(fs.Arg(0), "/")
	modSet := false
	fs.Visit(func(f *flag.Flag) { modSet = modSet || f.Name == "modify-index" })
	switch {
	case *cas && *recurse:
		fmt.Fprintln(env.stderr, "Cannot specify both -cas and -recurse!")
		return 1
	case modSet && !*cas:
		fmt.Fprintln(env.stderr, "Cannot specify -modify-index without -cas!")
		return 1
	case key == "" && !*recurse:
		fmt.Fprintln(env.stderr, "Error! Missing KEY argument")
		return 1
	}
	c := hf.client()
	ctx, cancel := ctxTimeout()
	defer cancel()
	if *recurse {
		if _, err := c.KVDeleteTree(ctx, key); err != nil {
			fmt.Fprintf(env.stderr, "Error! Did not delete prefix %s: %v\n", key, err)
			return 1
		}
		fmt.Fprintf(env.stdout, "Success! Deleted keys with prefix: %s\n", key)
		return 0
	}
	var casIdx *uint64
	if *cas {
		casIdx = modIdx
	}
	ok, err := c.KVDelete(ctx, key, casIdx)
	if err != nil {
		fmt.Fprintf(env.stderr, "Error! Did not delete key %s: %v\n", key, err)
		return 1
	}
	if !ok {
		fmt.Fprintf(env.stderr, "Error! Did not delete key %s: CAS failed\n", key)
		return 1
	}
	fmt.Fprintf(env.stdout, "Success! Deleted key: %s\n", key)
	return 0
}
