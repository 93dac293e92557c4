package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"consulx/api"
)

// runHosts prints one member name per line: the feed for ssh/scp host
// completion (the seeds complete host names from alive members).
func runHosts(args []string, env *cliEnv) int {
	cmd := newAPICmd("hosts", env)
	status := cmd.fs.String("status", "alive", "Only members whose status matches this regular expression")
	wan := cmd.fs.Bool("wan", false, "List WAN members (servers of all datacenters)")
	service := cmd.fs.String("service", "", "Only nodes providing this service (from the catalog)")
	tag := cmd.fs.String("tag", "", "With -service: only instances with this tag")
	return cmd.run(args, func(x *cmdRun) int {
		if *tag != "" && *service == "" {
			return x.errorf("-tag requires -service")
		}
		re, err := regexp.Compile("^(?:" + *status + ")$")
		if err != nil {
			return x.errorf("Failed to compile status regexp: %v", err)
		}
		ms, err := x.client.Members(x.ctx, *wan)
		if err != nil {
			return x.fail("retrieving members", err)
		}
		var providers map[string]bool
		if *service != "" {
			inst, _, err := x.client.CatalogService(x.ctx, *service, *tag, nil)
			if err != nil {
				return x.fail("retrieving service", err)
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
			fmt.Fprintln(x.stdout, n)
		}
		return 0
	})
}

// The completion scripts hold @COMMANDS@ where the subcommands go (a
// placeholder, not a format verb: the scripts are full of '%').
const bashCompletion = `# consulx bash completion: eval "$(consulx completion bash)"
_consulx() {
  local cur prev words cword
  cur="${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "@COMMANDS@" -- "$cur") )
    return
  fi
  case "${COMP_WORDS[1]}" in
    kv) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=( $(compgen -W "get put delete export import" -- "$cur") ) ;;
    snapshot) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=( $(compgen -W "save restore inspect" -- "$cur") ) ;;
    force-leave) COMPREPLY=( $(compgen -W "$(consulx hosts -status failed 2>/dev/null)" -- "$cur") ) ;;
  esac
}
complete -F _consulx consulx

# ssh, scp and sftp keep the system's completion (bash-completion's _ssh,
# _scp, _sftp: hosts from ~/.ssh/config and known_hosts, options, remote
# paths) and also offer the cluster's alive members where a host goes.

# _consulx_wrap CMD: put _consulx_ssh in front of CMD's completion, keeping
# its options (scp's nospace) and remembering its function.
_consulx_wrap() {
  local cmd=$1 spec fn=
  spec=$(complete -p "$cmd" 2>/dev/null)
  if [ -z "$spec" ] && declare -F _completion_loader >/dev/null; then
    # bash-completion loads a command's completion on first use: load it
    # now, so there is something to wrap.
    _completion_loader "$cmd" >/dev/null 2>&1
    spec=$(complete -p "$cmd" 2>/dev/null)
  fi
  [[ $spec =~ " -F "([^ ]+)" " ]] && fn=${BASH_REMATCH[1]}
  [ "$fn" = _consulx_ssh ] && return
  printf -v "_consulx_sys_$cmd" %s "$fn"
  if [ -n "$fn" ]; then
    eval "${spec/ -F $fn / -F _consulx_ssh }"
  else
    complete -F _consulx_ssh -o default "$cmd"
  fi
}

_consulx_ssh() {
  local cmd=${1##*/} var fn c
  var=_consulx_sys_$cmd
  fn=${!var-}
  if [ -z "$fn" ] && declare -F _completion_loader >/dev/null; then
    # bash-completion was loaded after this script: wrap its completion
    # now (loading it registers ssh, scp and sftp at once).
    complete -r "$cmd"
    for c in "$cmd" ssh scp sftp; do _consulx_wrap "$c"; done
    fn=${!var-}
    # This completion already runs with the old options: take the new ones.
    [[ $(complete -p "$cmd") == *nospace* ]] && compopt -o nospace 2>/dev/null
  fi
  COMPREPLY=()
  if [ -n "$fn" ]; then
    "$fn" "$@"
  fi
  _consulx_members "$cmd"
}

# _consulx_members CMD: add alive members when the word is a host: not an
# option or its argument, not a path, and for ssh/sftp the destination
# (the first operand), not the remote command; -J takes a host too.
_consulx_members() {
  local cmd=$1 line=${COMP_LINE:0:COMP_POINT} takesArg suffix= prefix= cur prev i w m hosts
  local -a words
  read -ra words <<<"$line"
  [[ $line == *[[:space:]] || ${#words[@]} -eq 0 ]] && words+=("")
  cur=${words[${#words[@]}-1]}
  prev=${words[${#words[@]}-2]-}
  case $cmd in
    # "host:" as the system's scp completion offers it, when the spec
    # does not add a space after a completion.
    scp) takesArg=cDFiJloPSX; [[ $(complete -p scp 2>/dev/null) == *nospace* ]] && suffix=: ;;
    sftp) takesArg=BbcDFiJloPRSsX ;;
    *) takesArg=BbcDEeFIiJLlmOoPpQRSWw ;;
  esac
  if [ "$prev" = -J ]; then
    suffix=
  else
    [[ $cur == -* || $prev == -*[$takesArg] ]] && return
    case $cmd in
      scp) [[ $cur == */* || $cur == *:* || $cur == [.~]* ]] && return ;;
      *)
        for ((i = 1; i < ${#words[@]} - 1; i++)); do
          w=${words[i]}
          if [[ $w == -* ]]; then
            [[ $w == -*[$takesArg] ]] && ((i++))
            continue
          fi
          return
        done
        ;;
    esac
  fi
  # user@host: readline replaces only what follows '@' when '@' breaks words.
  if [[ $cur == *@* ]]; then
    [[ $COMP_WORDBREAKS == *@* ]] || prefix=${cur%@*}@
    cur=${cur##*@}
  fi
  hosts=$(consulx hosts 2>/dev/null) || return
  for m in $(compgen -W "$hosts" -- "$cur"); do
    m=$prefix$m$suffix
    [[ " ${COMPREPLY[*]} " == *" $m "* ]] || COMPREPLY+=("$m")
  done
}

for _consulx_c in ssh scp sftp; do _consulx_wrap "$_consulx_c"; done
unset _consulx_c
`

const zshCompletion = `# consulx zsh completion: eval "$(consulx completion zsh)" (after compinit)
_consulx() {
  if (( CURRENT == 2 )); then
    compadd -- @COMMANDS@
  elif [[ $words[2] == kv && CURRENT -eq 3 ]]; then
    compadd -- get put delete export import
  elif [[ $words[2] == snapshot && CURRENT -eq 3 ]]; then
    compadd -- save restore inspect
  fi
}
compdef _consulx consulx

# ssh, scp and sftp keep zsh's own completion: _ssh_hosts, which they call
# wherever a host goes (hosts from ~/.ssh/config, known_hosts and the hosts
# style), also offers the cluster's alive members, with the same
# prefixes and suffixes (scp's "host:").
_consulx_members() {
  local -a members expl
  members=(${(f)"$(consulx hosts 2>/dev/null)"})
  (( $#members )) && _wanted hosts expl 'consulx member' compadd "$@" -a members
}
if (( ! $+functions[_consulx_sys_ssh_hosts] )); then
  # Load _ssh_hosts's body unless it is loaded already (compinit only
  # declares it; autoload +X fails on a function that is already loaded).
  if (( ! $+functions[_ssh_hosts] )) || [[ $functions[_ssh_hosts] == *'autoload -X'* ]]; then
    autoload -Uz +X _ssh_hosts 2>/dev/null
  fi
  if (( $+functions[_ssh_hosts] )) && [[ $functions[_ssh_hosts] != *'autoload -X'* ]]; then
    functions[_consulx_sys_ssh_hosts]=$functions[_ssh_hosts]
    _ssh_hosts() {
      local ret=1
      _consulx_sys_ssh_hosts "$@" && ret=0
      _consulx_members "$@" && ret=0
      return ret
    }
  else
    # No zsh host completion to extend: offer the members alone.
    _consulx_hosts() { _consulx_members }
    compdef _consulx_hosts ssh scp sftp
  fi
fi
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
	script := bashCompletion
	if args[0] == "zsh" {
		script = zshCompletion
	}
	fmt.Fprint(env.stdout, strings.ReplaceAll(script, "@COMMANDS@", strings.Join(names, " ")))
	return 0
}
