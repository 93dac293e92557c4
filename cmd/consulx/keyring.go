package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"consulx/api"
)

// runKeygen is `consul keygen`: a new random 32-byte gossip key (AES-256),
// base64, the form encrypt and `keyring -install` take.
func runKeygen(args []string, env *cliEnv) int {
	return newCmd("keygen", env).run(args, func(x *cmdRun) int {
		if len(x.args()) > 0 {
			return x.errorf("Too many command line arguments.")
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return x.errorf("Error reading random data: %v", err)
		}
		fmt.Fprintln(x.stdout, base64.StdEncoding.EncodeToString(key))
		return 0
	})
}

const keyringUsage = `Usage: consulx keyring [options]

  Manages the gossip encryption keys of the cluster: lists the installed
  keys, installs a new one, makes it primary and removes the old one, on
  every agent of every datacenter at once (LAN and WAN pools), so keys
  rotate without disrupting the cluster. Exit code 1 when any node fails
  or does not answer.

Options:
`

// runKeyring is `consul keyring`: exactly one of -list, -list-primary,
// -install, -use, -remove, with Consul's output.
func runKeyring(args []string, env *cliEnv) int {
	cmd := newAPICmd("keyring", env).withFormat()
	install := cmd.fs.String("install", "", "Install a new encryption key on every member")
	use := cmd.fs.String("use", "", "Make an installed key the primary key (the one that encrypts)")
	remove := cmd.fs.String("remove", "", "Remove a key that is not the primary key")
	list := cmd.fs.Bool("list", false, "List the keys installed in each pool")
	listPrimary := cmd.fs.Bool("list-primary", false, "List the primary keys of each pool")
	localOnly := cmd.fs.Bool("local-only", false, "List this datacenter's LAN pool only (no WAN traffic; lists only)")
	relay := cmd.fs.Int("relay-factor", 0, "Have each node relay its answer through this many others (0 to 5)")
	cmd.fs.Usage = func() {
		fmt.Fprint(env.stderr, keyringUsage)
		cmd.fs.PrintDefaults()
	}
	return cmd.run(args, func(x *cmdRun) int {
		if len(x.args()) > 0 {
			return x.errorf("Too many command line arguments.")
		}
		actions := 0
		for _, on := range []bool{*list, *listPrimary, *install != "", *use != "", *remove != ""} {
			if on {
				actions++
			}
		}
		switch {
		case actions > 1:
			return x.errorf("Only a single action is allowed")
		case actions == 0:
			cmd.fs.Usage()
			return 1
		case *relay < 0 || *relay > 5:
			return x.errorf("Error parsing relay factor: Relay factor must be in range: [0, 5]")
		case *localOnly && !*list && !*listPrimary:
			return x.errorf("Error validating local-only: local-only can only be set for list requests")
		}
		opts := &api.KeyringOptions{LocalOnly: *localOnly, RelayFactor: *relay}
		if *list || *listPrimary {
			return keyringList(x, opts, *listPrimary)
		}
		var what string
		var op func() error
		switch {
		case *install != "":
			what, op = "Installing new gossip encryption key...", func() error { return x.client.KeyringInstall(x.ctx, *install, opts) }
		case *use != "":
			what, op = "Changing primary gossip encryption key...", func() error { return x.client.KeyringUse(x.ctx, *use, opts) }
		default:
			what, op = "Removing gossip encryption key...", func() error { return x.client.KeyringRemove(x.ctx, *remove, opts) }
		}
		fmt.Fprintln(x.stdout, "==> "+what)
		if err := op(); err != nil {
			return keyringError(x, err)
		}
		return 0
	})
}

// keyringList prints each pool and its keys (or primary keys), as
// Consul's `keyring -list`, keys sorted.
func keyringList(x *cmdRun, opts *api.KeyringOptions, primary bool) int {
	if !x.json() {
		if primary {
			fmt.Fprintln(x.stdout, "==> Gathering installed primary encryption keys...")
		} else {
			fmt.Fprintln(x.stdout, "==> Gathering installed encryption keys...")
		}
	}
	rs, err := x.client.KeyringList(x.ctx, opts)
	if err != nil {
		return keyringError(x, err)
	}
	return x.output(rs, func(w io.Writer) {
		for _, r := range rs {
			keys := r.Keys
			if primary {
				keys = r.PrimaryKeys
			}
			printKeyringPool(w, r, keys)
		}
	})
}

func printKeyringPool(w io.Writer, r api.KeyringResponse, keys map[string]int) {
	pool := r.Datacenter + " (LAN)"
	if r.WAN {
		pool = "WAN"
	}
	if r.Segment != "" {
		pool += " [" + r.Segment + "]"
	}
	fmt.Fprintf(w, "\n%s:\n", pool)
	for _, from := range sortedKeys(r.Messages) {
		fmt.Fprintf(w, "  ===> %s: %s\n", from, r.Messages[from])
	}
	for _, k := range sortedKeys(keys) {
		fmt.Fprintf(w, "  %s [%d/%d]\n", k, keys[k], r.NumNodes)
	}
}

// keyringError prints an agent's refusal as Consul's keyring command does
// ("error: Unexpected response code: 500 (...)"); not reaching the agent
// is the usual connection message.
func keyringError(x *cmdRun, err error) int {
	var se *api.StatusError
	if errors.As(err, &se) {
		return x.errorf("error: %s", err)
	}
	return x.fail("querying agent", err)
}
