package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"consulx/node"
)

// versionInfo is `version -format=json`: Consul's fields (Version,
// Revision, Prerelease, BuildDate, RPC) and the Go toolchain the pretty
// form also prints.
type versionInfo struct {
	Version    string
	Revision   string
	Prerelease string
	BuildDate  string `json:",omitempty"`
	RPC        struct{ Default, Min, Max int }
	Go         string
}

func runVersion(args []string, env *cliEnv) int {
	return newCmd("version", env).withFormat().run(args, func(x *cmdRun) int {
		v := versionInfo{Version: node.Version, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
		v.RPC.Default, v.RPC.Min, v.RPC.Max = 2, 2, 3
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					v.Revision = s.Value
				case "vcs.time":
					v.BuildDate = s.Value
				}
			}
		}
		return x.output(v, func(w io.Writer) {
			fmt.Fprintf(w, "consulx v%s\nProtocol %d spoken by default, understands %d to %d\nGo %s\n", v.Version, v.RPC.Default, v.RPC.Min, v.RPC.Max, v.Go)
		})
	})
}
