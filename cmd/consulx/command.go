package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"consulx/api"
)

// cliCmd declares one CLI command once: its flag set, with the shared HTTP
// flags when it talks to an agent and -format when it prints data. run
// parses the arguments (the flag package's message and usage, exit 1; -h
// exits 0), checks -format, and hands the body a cmdRun with the client
// and a context bounded by 30 s (lock and tui run longer and make their
// own), then fail is the one exit for an API error.
//
//	cmd := newAPICmd("members", env).withFormat()
//	wan := cmd.fs.Bool("wan", false, "...")
//	return cmd.run(args, func(x *cmdRun) int { ... })
type cliCmd struct {
	env    *cliEnv
	fs     *flag.FlagSet
	http   *httpFlags // nil: the command does not talk to an agent
	format string     // "" unless withFormat
	hasFmt bool
}

// httpFlags are the flags every API command shares, as in Consul
// (-stale only where a command reads through the servers).
type httpFlags struct {
	addr       string
	token      string
	tokenFile  string
	datacenter string
	stale      bool
	tls        tlsFlags // -ca-file, -client-cert... (tls.go)
}

func (h *httpFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.addr, "http-addr", api.DefaultAddr(), "Address of the agent's HTTP API (env CONSUL_HTTP_ADDR, CONSULX_HTTP_ADDR)")
	fs.StringVar(&h.token, "token", "", "ACL token (env CONSUL_HTTP_TOKEN, CONSULX_HTTP_TOKEN)")
	fs.StringVar(&h.tokenFile, "token-file", "", "File containing the ACL token, used instead of -token (env CONSUL_HTTP_TOKEN_FILE, CONSULX_HTTP_TOKEN_FILE)")
	fs.StringVar(&h.datacenter, "datacenter", "", "Datacenter to query (default: the agent's)")
	h.tls.register(fs)
}

// requestToken picks the token as Consul 1.22's CLI does (checked
// against it): -token-file, then -token, then the environment, where
// the token file again wins over the token (api.EnvToken). A file that
// is empty counts as not given.
func (h *httpFlags) requestToken() (string, error) {
	if h.tokenFile != "" {
		if t, err := api.ReadTokenFile(h.tokenFile); err != nil || t != "" {
			return t, err
		}
	}
	if h.token != "" {
		return h.token, nil
	}
	return api.EnvToken()
}

func (h *httpFlags) client() (*api.Client, error) {
	tok, err := h.requestToken()
	if err != nil {
		return nil, err
	}
	c, err := h.tls.client(h.addr)
	if err != nil {
		return nil, err
	}
	c.Token = tok
	return c, nil
}

// Output formats of -format.
const (
	formatPretty = "pretty"
	formatJSON   = "json"
)

// newCmd declares a command that does not talk to an agent.
func newCmd(name string, env *cliEnv) *cliCmd {
	return &cliCmd{env: env, fs: newFlagSet(name, env)}
}

// newAPICmd declares a command that talks to an agent: -http-addr, -token
// and -datacenter, as every Consul API command has.
func newAPICmd(name string, env *cliEnv) *cliCmd {
	c := newCmd(name, env)
	c.http = &httpFlags{}
	c.http.register(c.fs)
	return c
}

// withFormat adds -format (pretty or json).
func (c *cliCmd) withFormat() *cliCmd {
	c.hasFmt = true
	c.fs.StringVar(&c.format, "format", formatPretty, `Output format: "pretty" or "json"`)
	return c
}

// withStale adds -stale (any server may answer) with the command's own help.
func (c *cliCmd) withStale(usage string) *cliCmd {
	c.fs.BoolVar(&c.http.stale, "stale", false, usage)
	return c
}

// run parses args and runs body; its result is the exit code.
func (c *cliCmd) run(args []string, body func(x *cmdRun) int) int {
	if ok, code := parseFlags(c.fs, args); !ok {
		return code
	}
	if c.hasFmt && c.format != formatPretty && c.format != formatJSON {
		fmt.Fprintf(c.env.stderr, "Invalid format %q: must be %q or %q\n", c.format, formatPretty, formatJSON)
		return 1
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	x := &cmdRun{cliCmd: c, ctx: ctx, stdout: c.env.stdout, stderr: c.env.stderr}
	if c.http != nil {
		var err error
		if x.client, err = c.http.client(); err != nil {
			return x.errorf("Error %v", err)
		}
	}
	return body(x)
}

// cmdRun is a parsed command while it runs.
type cmdRun struct {
	*cliCmd
	ctx            context.Context
	client         *api.Client // nil for commands without HTTP flags
	stdout, stderr io.Writer
}

// args are the positional arguments after the flags.
func (x *cmdRun) args() []string { return x.fs.Args() }

// datacenter is -datacenter ("" for the agent's own).
func (x *cmdRun) datacenter() string { return x.http.datacenter }

// query is the read options the flags ask for (-datacenter, -stale).
func (x *cmdRun) query() *api.QueryOptions {
	return &api.QueryOptions{Datacenter: x.http.datacenter, Stale: x.http.stale}
}

// stale is -stale.
func (x *cmdRun) stale() bool { return x.http.stale }

// fail is the one error exit for an API failure: Consul's wording, exit 1.
func (x *cmdRun) fail(what string, err error) int { return apiError(x.stderr, what, err) }

// errorf prints one line to stderr and returns exit code 1.
func (x *cmdRun) errorf(format string, a ...any) int {
	fmt.Fprintf(x.stderr, format+"\n", a...)
	return 1
}

// json reports -format=json.
func (x *cmdRun) json() bool { return x.format == formatJSON }

// output prints data as indented JSON with -format=json, otherwise calls
// pretty; it returns exit code 0 (1 if data cannot be encoded).
func (x *cmdRun) output(data any, pretty func(w io.Writer)) int {
	if !x.json() {
		pretty(x.stdout)
		return 0
	}
	return writeJSON(x.stdout, x.stderr, data)
}

// writeJSON writes v indented (four spaces, as Consul's formatters do),
// without HTML escaping so keys and values read as they are.
func writeJSON(w, errw io.Writer, v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(errw, "Error encoding JSON: %v\n", err)
		return 1
	}
	_, _ = w.Write(b.Bytes())
	return 0
}

// flagSet reports whether the flag name was given on the command line.
func (x *cmdRun) flagSet(name string) bool {
	set := false
	x.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
