package main

import (
	"fmt"
	"regexp"
	"sort"

	"consulx/api"
)

// runHosts prints one member name per line: the feed for ssh/scp host
// completion (the seeds complete host names from alive members).
func runHosts(args []string, env *cliEnv) int {
	fs := newFlagSet("hosts", env)
	var hf httpFlags
	hf.register(fs)
	status := fs.String("status", "alive", "Only members whose status matches this regular expression")
	wan := fs.Bool("wan", false, "List WAN members (servers of all datacenters)")
	service := fs.String("service", "", "Only nodes providing this service (from the catalog)")
	tag := fs.String("tag", "", "With -service: only instances with this tag")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *tag != "" && *service == "" {
		fmt.Fprintln(env.stderr, "-tag requires -service")
		return 1
	}
	re, err := regexp.Compile("^(?:" + *status + ")$")
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
	var providers map[string]bool
	if *service != "" {
		inst, _, err := hf.client().CatalogService(ctx, *service, *tag, nil)
		if err != nil {
			return apiError(env.stderr, "retrieving service", err)
		}
		providers = map[string]bool{}
		for _, i := range inst {
			providers[i.Node] = true
		}
	}
	var names []string
	for _, m := range ms {
		if re.MatchString(api.StatusWord(m.Status)) && (providers == nil || providers[m.Name]) {
			names = append(names, m.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintln(env.stdout, n)
	}
	return 0
}

const bashCompletion = `# consulx bash completion: eval "$(consulx completion bash)"
_consulx() {
  local cur prev words cword
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "%[1]s" -- "$cur") )
    return
  fi
  case "${COMP_WORDS[1]}" in
    kv) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=( $(compgen -W "get put delete export import" -- "$cur") ) ;;
    snapshot) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=( $(compgen -W "save restore inspect" -- "$cur") ) ;;
    force-leave) COMPREPLY=( $(compgen -W "$(consulx hosts -status failed 2>/dev/null)" -- "$cur") ) ;;
  esac
}
complete -F _consulx consulx

# ssh/scp host names from the cluster's alive members
_consulx_hosts() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local hosts
  hosts=$(consulx hosts 2>/dev/null)
  if [[ "$cur" == *@* ]]; then
    COMPREPLY=( $(compgen -P "${cur%%@*}@" -W "$hosts" -- "${cur#*@}") )
  else
    COMPREPLY=( $(compgen -W "$hosts" -- "$cur") )
  fi
}
complete -F _consulx_hosts -o default ssh scp
`

const zshCompletion = `# consulx zsh completion: eval "$(consulx completion zsh)"
_consulx() {
  if (( CURRENT == 2 )); then
    compadd -- %[1]s
  elif [[ $words[2] == kv && CURRENT -eq 3 ]]; then
    compadd -- get put delete export import
  elif [[ $words[2] == snapshot && CURRENT -eq 3 ]]; then
    compadd -- save restore inspect
  fi
}
compdef _consulx consulx

# ssh/scp host names from the cluster's alive members
_consulx_hosts() { compadd -- ${(f)"$(consulx hosts 2>/dev/null)"} }
compdef _consulx_hosts ssh scp
`

func runCompletion(args []string, env *cliEnv) int {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		fmt.Fprintln(env.stderr, "Usage: consulx completion bash|zsh")
		return 1
	}
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	words := fmt.Sprint(names)
	words = words[1 : len(words)-1]
	tmpl := bashCompletion
	if args[0] == "zsh" {
		tmpl = zshCompletion
	}
	fmt.Fprintf(env.stdout, tmpl, words)
	return 0
}
