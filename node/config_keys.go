package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// keySpec declares one key of Consul's agent configuration (or, with keys,
// an object and its child keys). The table below is Consul's full key set,
// taken from hashicorp/consul agent/config/config.go and deprecated.go
// (Config, DeprecatedConfig and the nested structs, at commit bf11280c9baf),
// so a Consul config ports without "unknown key" errors. What consulx does
// with each key:
//   - honoured: no warn/noEffect on it or above it; FileConfig decodes it
//     (a test holds the two in step);
//   - warn: accepted, not supported yet; the agent warns at start, saying
//     what the operator does not get (no TLS, no ACLs...);
//   - noEffect: accepted, and meaningless for consulx by design (Consul
//     Enterprise, Consul's internals, its web UI); also a warning.
//
// Anything else is an error, as in Consul. A key without child keys takes
// any value (free-form maps such as node_meta); a key with child keys takes
// an object, or a list of objects (segments, Consul's HCL-style blocks).
type keySpec struct {
	path     string // dotted; its parent must come earlier in the table
	keys     string // space-separated child keys of the object at path
	warn     string
	noEffect string
}

const (
	warnMesh = "there is no service mesh (Connect): no CA, no certificates, no proxies, intentions are NOT enforced"
	warnLog  = "logs go only to stderr (or the console's Log pane): no log file, no JSON, no syslog"
	warnReap = "failed members are reaped after consulx's fixed reconnect timeout (72h)"
	warnRaft = "the Raft log and snapshots use consulx's fixed settings"
	noUI     = "consulx has no web UI; use `consulx tui` or the console of `consulx agent`"
	noEnt    = "it is a Consul Enterprise setting"
	noInt    = "it is an internal Consul setting"
	noStream = "consulx answers blocking queries; it has no streaming backend"
)

var consulKeyTable = []keySpec{
	{path: "", keys: `datacenter node_name data_dir server bootstrap bootstrap_expect bind_addr advertise_addr
		client_addr log_level ports retry_join retry_join_wan retry_interval retry_interval_wan retry_max retry_max_wan
		start_join start_join_wan
		leave_on_terminate skip_leave_on_interrupt disable_update_check disable_remote_exec
		enable_script_checks enable_debug performance limits service services check checks
		dns_config domain recursors session_ttl_min default_query_time max_query_time watches replicate
		encrypt encrypt_verify_incoming encrypt_verify_outgoing disable_keyring_file`},

	{path: "ports", keys: `dns http https serf_lan serf_wan server grpc grpc_tls proxy_min_port proxy_max_port
		sidecar_min_port sidecar_max_port expose_min_port expose_max_port`},
	{path: "ports.grpc", warn: "there is no gRPC listener"},
	{path: "ports.grpc_tls", warn: "there is no gRPC listener"},
	{path: "ports.proxy_min_port", warn: warnMesh},
	{path: "ports.proxy_max_port", warn: warnMesh},
	{path: "ports.sidecar_min_port", warn: warnMesh},
	{path: "ports.sidecar_max_port", warn: warnMesh},
	{path: "ports.expose_min_port", warn: warnMesh},
	{path: "ports.expose_max_port", warn: warnMesh},

	{path: "performance", keys: "raft_multiplier rpc_hold_timeout leave_drain_time"},
	{path: "performance.leave_drain_time", warn: "a leaving server uses consulx's fixed drain time"},

	{path: "limits", keys: `http_max_conns_per_client kv_max_value_size https_handshake_timeout request_limits
		rpc_client_timeout rpc_handshake_timeout rpc_max_burst rpc_max_conns_per_client rpc_rate txn_max_req_len`},
	{path: "limits.https_handshake_timeout", warn: "the HTTPS handshake is bounded by consulx's fixed 30 s header timeout"},
	{path: "limits.request_limits", keys: "mode read_rate write_rate", warn: "requests are NOT rate-limited"},
	{path: "limits.rpc_client_timeout", warn: "internal RPC uses consulx's fixed timeouts"},
	{path: "limits.rpc_handshake_timeout", warn: "internal RPC uses consulx's fixed timeouts"},
	{path: "limits.rpc_max_conns_per_client", warn: "RPC connections per client are NOT capped"},
	{path: "limits.txn_max_req_len", warn: "transactions are bounded by their operation count and the value size only"},

	{path: "dns_config", keys: `allow_stale max_stale node_ttl service_ttl udp_answer_limit only_passing
		enable_truncate recursor_timeout a_record_limit disable_compression recursor_strategy
		enable_additional_node_meta_txt soa use_cache cache_max_age prefer_namespace`},
	{path: "dns_config.a_record_limit", warn: "A/AAAA answers are capped by udp_answer_limit only"},
	{path: "dns_config.disable_compression", warn: "DNS answers use consulx's fixed compression"},
	{path: "dns_config.recursor_strategy", warn: "recursors are tried in the order given"},
	{path: "dns_config.enable_additional_node_meta_txt", warn: "no node metadata TXT records are added"},
	{path: "dns_config.soa", keys: "refresh retry expire min_ttl", warn: "the SOA record uses consulx's fixed timers"},
	{path: "dns_config.use_cache", warn: "DNS reads do not use an agent cache"},
	{path: "dns_config.cache_max_age", warn: "DNS reads do not use an agent cache"},
	{path: "dns_config.prefer_namespace", noEffect: noEnt},

	// ACLs, with the deprecated top-level spellings.
	{path: "acl", keys: `enabled enable_token_replication policy_ttl role_ttl token_ttl down_policy
		default_policy enable_key_list_policy tokens enable_token_persistence msp_disable_bootstrap`},
	{path: "acl.policy_ttl", warn: "policies are cached until they change, token_ttl applies"},
	{path: "acl.role_ttl", warn: "there are no ACL roles"},
	{path: "acl.enable_key_list_policy", noEffect: "the list policy is always honoured"},
	{path: "acl.msp_disable_bootstrap", noEffect: noEnt},
	{path: "acl.tokens", keys: `initial_management replication agent_recovery default agent
		config_file_service_registration managed_service_provider master agent_master`},
	{path: "acl.tokens.config_file_service_registration", warn: "config-file services are registered with the agent token"},
	{path: "acl.tokens.managed_service_provider", keys: "accessor_id secret_id", noEffect: noEnt},
	{path: "acl_agent_master_token"},
	{path: "acl_agent_token"},
	{path: "acl_token"},
	{path: "acl_enable_key_list_policy", noEffect: "the list policy is always honoured"},
	{path: "acl_master_token"},
	{path: "acl_replication_token"},
	{path: "enable_acl_replication"},
	{path: "acl_datacenter"},
	{path: "acl_default_policy"},
	{path: "acl_down_policy"},
	{path: "acl_ttl"},
	{path: "primary_datacenter"},

	// TLS (config_tls.go) covers the server port and HTTPS; gossip has its
	// own encryption (encrypt, above).
	{path: "tls", keys: "defaults internal_rpc https grpc"},
	{path: "tls.defaults", keys: tlsKeys},
	{path: "tls.internal_rpc", keys: tlsKeys},
	{path: "tls.https", keys: tlsKeys},
	{path: "tls.https.verify_outgoing", noEffect: "nothing goes out over HTTPS with the agent's TLS settings (in Consul either)"},
	{path: "tls.grpc", keys: tlsKeys, warn: "there is no gRPC listener"},
	{path: "ca_file"},
	{path: "ca_path"},
	{path: "cert_file"},
	{path: "key_file"},
	{path: "tls_cipher_suites"},
	{path: "tls_min_version"},
	{path: "verify_incoming"},
	{path: "verify_incoming_https"},
	{path: "verify_incoming_rpc"},
	{path: "verify_outgoing"},
	{path: "verify_server_hostname"},
	{path: "server_name", warn: "outgoing TLS checks server.<datacenter>.<domain> only; the name is not overridden"},
	{path: "enable_agent_tls_for_checks", warn: "HTTP checks do NOT present the agent's certificate nor trust its CA"},
	{path: "tls_prefer_server_cipher_suites", noEffect: "Consul ignores it too"},
	{path: "auto_encrypt", keys: "tls dns_san ip_san allow_tls",
		warn: "agents do NOT get certificates from the servers: give each its own cert_file and key_file"},

	// Service mesh.
	{path: "connect", warn: warnMesh, keys: `enabled ca_provider ca_config enable_mesh_gateway_wan_federation
		test_ca_leaf_root_change_spread`},
	{path: "config_entries", keys: "bootstrap", warn: "config entries (service defaults, intentions...) are NOT created"},
	{path: "enable_central_service_config", warn: "there are no central service defaults (config entries)"},
	{path: "primary_gateways", warn: warnMesh},
	{path: "primary_gateways_interval", warn: warnMesh},
	{path: "xds", keys: "update_max_per_second", warn: warnMesh},
	{path: "peering", keys: "enabled test_allow_peer_registrations", warn: "cluster peering is not available"},

	// Addresses and joining.
	{path: "addresses", keys: "dns http https grpc grpc_tls", warn: "HTTP, HTTPS and DNS listen on client_addr"},
	{path: "advertise_addr_ipv4", warn: "only advertise_addr is advertised"},
	{path: "advertise_addr_ipv6", warn: "only advertise_addr is advertised"},
	{path: "advertise_addr_wan", warn: "the WAN pool advertises advertise_addr"},
	{path: "advertise_addr_wan_ipv4", warn: "the WAN pool advertises advertise_addr"},
	{path: "advertise_addr_wan_ipv6", warn: "the WAN pool advertises advertise_addr"},
	{path: "serf_lan", warn: "gossip binds to bind_addr"},
	{path: "serf_wan", warn: "gossip binds to bind_addr"},
	{path: "serf_lan_allowed_cidrs", warn: "gossip is NOT restricted by source network"},
	{path: "serf_wan_allowed_cidrs", warn: "gossip is NOT restricted by source network"},
	{path: "tagged_addresses", warn: "tagged addresses are not published"},
	{path: "translate_wan_addrs", warn: "addresses are not translated for other datacenters"},
	{path: "rejoin_after_leave", warn: "rejoining after a graceful leave follows consulx's default"},
	{path: "reconnect_timeout", warn: warnReap},
	{path: "reconnect_timeout_wan", warn: warnReap},
	{path: "advertise_reconnect_timeout", warn: warnReap},
	{path: "gossip_lan", keys: gossipKeys, warn: "LAN gossip uses memberlist's default LAN timings"},
	{path: "gossip_wan", keys: gossipKeys, warn: "WAN gossip uses memberlist's default WAN timings"},
	{path: "alt_domain", warn: "DNS answers under domain only"},
	{path: "unix_sockets", keys: "group mode user", warn: "there are no Unix socket listeners"},

	// Agent behaviour.
	{path: "node_id", warn: "the node ID is the one kept in data_dir/node-id (random at first start)"},
	{path: "node_meta", warn: "node metadata is not published"},
	{path: "locality", keys: "region zone", warn: "locality is not published"},
	{path: "pid_file", warn: "no PID file is written"},
	{path: "auto_reload_config", warn: "config files are not watched; send SIGHUP or run `consulx reload`"},
	{path: "auto_config", keys: "enabled intro_token intro_token_file server_addresses dns_sans ip_sans authorization",
		warn: "agents are NOT configured by the servers (no auto-config, no TLS certificates)"},
	{path: "auto_config.authorization", keys: "enabled static"},
	{path: "auto_config.authorization.static", keys: `claim_assertions allow_reuse jwt_supported_algs bound_audiences
		claim_mappings list_claim_mappings oidc_discovery_url oidc_discovery_ca_cert jwks_url jwks_ca_cert
		jwt_validation_pub_keys bound_issuer expiration_leeway not_before_leeway clock_skew_leeway`},
	{path: "autopilot", warn: "there is no autopilot: failed servers keep their Raft seat, server health is not tracked",
		keys: `cleanup_dead_servers last_contact_threshold max_trailing_logs min_quorum server_stabilization_time
		disable_upgrade_migration redundancy_zone_tag upgrade_version_tag`},
	{path: "http_config", keys: "block_endpoints allow_write_http_from response_headers use_cache max_header_bytes"},
	{path: "http_config.block_endpoints", warn: "HTTP endpoints are NOT blocked"},
	{path: "http_config.allow_write_http_from", warn: "HTTP writes are NOT restricted by source address"},
	{path: "http_config.response_headers", warn: "the headers are NOT added to HTTP responses"},
	{path: "http_config.use_cache", warn: "the HTTP API has no agent cache"},
	{path: "http_config.max_header_bytes", warn: "Go's default header limit (1 MiB) applies"},
	{path: "cache", keys: "entry_fetch_max_burst entry_fetch_rate", warn: "the HTTP API has no agent cache"},
	{path: "check_output_max_size", warn: "check output is capped at consulx's fixed 4 KiB"},
	{path: "check_update_interval", warn: "check output is synced on consulx's own schedule"},
	{path: "discard_check_output", warn: "check output is kept"},
	{path: "discovery_max_stale", warn: "discovery reads over HTTP are not made stale"},
	{path: "enable_local_script_checks", warn: "script checks run only with enable_script_checks"},
	{path: "telemetry", warn: "no metrics are exported", keys: `circonus_api_app circonus_api_token circonus_api_url
		circonus_broker_id circonus_broker_select_tag circonus_check_display_name
		circonus_check_force_metric_activation circonus_check_id circonus_check_instance_id
		circonus_check_search_tag circonus_check_tags circonus_submission_interval circonus_submission_url
		disable_hostname dogstatsd_addr dogstatsd_tags retry_failed_connection filter_default prefix_filter
		metrics_prefix prometheus_retention_time statsd_address statsite_address`},
	{path: "log_json", warn: warnLog},
	{path: "log_file", warn: warnLog},
	{path: "log_rotate_duration", warn: warnLog},
	{path: "log_rotate_bytes", warn: warnLog},
	{path: "log_rotate_max_files", warn: warnLog},
	{path: "log_sublevels", warn: "log_level applies to every subsystem"},
	{path: "enable_syslog", warn: warnLog},
	{path: "syslog_facility", warn: warnLog},
	{path: "raft_protocol", noEffect: "consulx always speaks Raft protocol 3"},
	{path: "protocol", noEffect: "consulx speaks one protocol version"},
	{path: "raft_snapshot_threshold", warn: warnRaft},
	{path: "raft_snapshot_interval", warn: warnRaft},
	{path: "raft_trailing_logs", warn: warnRaft},
	{path: "raft_logstore", keys: "backend disable_log_cache verification boltdb wal", warn: warnRaft},
	{path: "raft_logstore.verification", keys: "enabled interval"},
	{path: "raft_logstore.boltdb", keys: "no_freelist_sync"},
	{path: "raft_logstore.wal", keys: "segment_size_mb"},
	{path: "raft_boltdb", keys: "no_freelist_sync", warn: warnRaft},
	{path: "disable_anonymous_signature", noEffect: "consulx never checks for updates"},
	{path: "disable_coordinates", noEffect: "consulx has no network coordinates"},
	{path: "disable_host_node_id", noEffect: "node IDs are always random, kept in data_dir/node-id"},
	{path: "disable_http_unprintable_char_filter", noEffect: "consulx does not filter unprintable characters in URLs"},
	{path: "rpc", keys: "enable_streaming", noEffect: noStream},
	{path: "use_streaming_backend", noEffect: noStream},
	{path: "snapshot_agent", noEffect: "it configures Consul's separate snapshot agent, which Consul ignores here too"},
	{path: "cloud", keys: "resource_id client_id client_secret hostname auth_url scada_address",
		noEffect: "HashiCorp Cloud Platform linking is not available"},

	// Consul's web UI.
	{path: "ui", noEffect: noUI},
	{path: "ui_dir", noEffect: noUI},
	{path: "ui_content_path", noEffect: noUI},
	{path: "ui_config", noEffect: noUI, keys: `enabled dir content_path metrics_provider metrics_provider_files
		metrics_provider_options_json metrics_proxy dashboard_url_templates`},
	{path: "ui_config.metrics_proxy", keys: "base_url add_headers path_allowlist"},
	{path: "ui_config.metrics_proxy.add_headers", keys: "name value"},

	// Consul's internal tuning (not meant for users, accepted by Consul).
	{path: "ae_interval", noEffect: noInt},
	{path: "check_deregister_interval_min", noEffect: noInt},
	{path: "check_reap_interval", noEffect: noInt},
	{path: "consul", keys: "coordinate raft server", noEffect: noInt},
	{path: "consul.coordinate", keys: "update_batch_size update_max_batches update_period"},
	{path: "consul.raft", keys: "election_timeout heartbeat_timeout leader_lease_timeout"},
	{path: "consul.server", keys: "health_interval"},
	{path: "revision", noEffect: noInt},
	{path: "segment_limit", noEffect: noInt},
	{path: "segment_name_limit", noEffect: noInt},
	{path: "sync_coordinate_interval_min", noEffect: noInt},
	{path: "sync_coordinate_rate_target", noEffect: noInt},
	{path: "version", noEffect: noInt},
	{path: "version_prerelease", noEffect: noInt},
	{path: "version_metadata", noEffect: noInt},
	{path: "build_date", noEffect: noInt},
	{path: "license_poll_base_time", noEffect: noInt},
	{path: "license_poll_max_time", noEffect: noInt},
	{path: "license_update_base_time", noEffect: noInt},
	{path: "license_update_max_time", noEffect: noInt},

	// Consul Enterprise (Consul CE warns the same way).
	{path: "audit", keys: "enabled sink", noEffect: noEnt},
	{path: "audit.sink", keys: "*"},
	{path: "audit.sink.*", keys: "type format path delivery_guarantee mode rotate_bytes rotate_duration rotate_max_files"},
	{path: "read_replica", noEffect: noEnt},
	{path: "non_voting_server", noEffect: noEnt},
	{path: "segment", noEffect: noEnt},
	{path: "segments", keys: "advertise bind name port rpc_listener", noEffect: noEnt},
	{path: "partition", noEffect: noEnt},
	{path: "license_path", noEffect: noEnt},
	{path: "reporting", keys: "license", noEffect: noEnt},
	{path: "reporting.license", keys: "enabled"},
}

const (
	tlsKeys = `ca_file ca_path cert_file key_file tls_min_version tls_cipher_suites verify_incoming
		verify_outgoing verify_server_hostname use_auto_cert`
	gossipKeys = "gossip_nodes gossip_interval probe_interval probe_timeout suspicion_mult retransmit_mult"
)

// keyNode is one key of the tree built from consulKeyTable.
type keyNode struct {
	path     string
	warn     string
	noEffect string
	// decoded: FileConfig has a field for this key (or it lies under one
	// kept verbatim, such as dns_config), so the key is passed on, even
	// when it also warns (tls.https.verify_outgoing is stored, and used
	// for nothing). Other keys are dropped after their check.
	decoded  bool
	children map[string]*keyNode // by lower-case key; "*" matches any key
}

func (n *keyNode) child(key string) *keyNode {
	if c := n.children[strings.ToLower(key)]; c != nil {
		return c
	}
	return n.children["*"]
}

// consulKeys is the immutable key tree; a malformed table panics at
// start-up, so any test run catches it.
var consulKeys = buildKeyTree(consulKeyTable, reflect.TypeFor[FileConfig]())

func buildKeyTree(table []keySpec, decoder reflect.Type) *keyNode {
	root := &keyNode{children: map[string]*keyNode{}}
	find := func(path string) *keyNode {
		n := root
		if path == "" {
			return n
		}
		for _, k := range strings.Split(path, ".") {
			if n = n.children[k]; n == nil {
				panic("config key table: " + path + " is listed before its parent")
			}
		}
		return n
	}
	add := func(parent *keyNode, key string) *keyNode {
		if parent.children == nil {
			parent.children = map[string]*keyNode{}
		}
		c := parent.children[key]
		if c == nil {
			p := key
			if parent.path != "" {
				p = parent.path + "." + key
			}
			c = &keyNode{path: p}
			parent.children[key] = c
		}
		return c
	}
	for _, s := range table {
		var n *keyNode
		if i := strings.LastIndexByte(s.path, '.'); i >= 0 {
			n = add(find(s.path[:i]), s.path[i+1:])
		} else if s.path != "" {
			n = add(root, s.path)
		} else {
			n = root
		}
		if s.warn != "" || s.noEffect != "" {
			n.warn, n.noEffect = s.warn, s.noEffect
		}
		for _, k := range strings.Fields(s.keys) {
			add(n, k)
		}
	}
	markDecoded(root, decoder)
	return root
}

// markDecoded flags the keys FileConfig has a field for. Below a
// json.RawMessage field (dns_config) every supported key passes through to
// the code that consumes it.
func markDecoded(n *keyNode, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[json.RawMessage]() {
		passThrough(n)
		return
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" && t.Field(i).Anonymous {
			markDecoded(n, t.Field(i).Type) // embedded: its keys are this object's
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		c := n.children[name]
		if c == nil {
			panic("config key table: FileConfig decodes " + joinPath(n.path, name) + ", which is not a Consul key in the table")
		}
		c.decoded = true
		markDecoded(c, t.Field(i).Type)
	}
}

func passThrough(n *keyNode) {
	for _, c := range n.children {
		if c.warn == "" && c.noEffect == "" {
			c.decoded = true
			passThrough(c)
		}
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// ConfigWarning is a key that was accepted but is not (yet) honoured.
type ConfigWarning struct {
	File string // the config file that set it
	Key  string // dotted path, e.g. "acl" or "ports.grpc"
	Text string // one line naming the key and what the operator does not get
}

// inert tells whether a value asks for nothing: null, false, 0, -1, "",
// empty lists and objects, and objects whose "enabled" is false. Writing a
// feature off (or at its default) deserves no warning.
func inert(raw json.RawMessage) bool {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	return inertValue(v)
}

func inertValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0 || x == -1
	case string:
		return x == ""
	case []any:
		for _, e := range x {
			if !inertValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, e := range x {
			if strings.EqualFold(k, "enabled") && e == false {
				return true
			}
		}
		for _, e := range x {
			if !inertValue(e) {
				return false
			}
		}
		return true
	}
	return false
}

// checkKeys walks one source against the key tree. An unknown key is an
// error naming it; a key that is not supported yet becomes a warning and is
// dropped unless FileConfig decodes it, so FileConfig (strict) and the raw
// consumers (service, dns_config) only ever see what they honour.
func checkKeys(file string, doc json.RawMessage) (json.RawMessage, []ConfigWarning, error) {
	w := &keyWalk{file: file}
	out, err := w.walk(consulKeys, "", doc, false)
	return out, w.warnings, err
}

type keyWalk struct {
	file     string
	warnings []ConfigWarning
}

// walk returns raw with the dropped keys removed; raw itself, byte for
// byte, when nothing was dropped. quiet is set inside a subtree whose root
// already warned, so one acl block gives one warning.
func (w *keyWalk) walk(n *keyNode, path string, raw json.RawMessage, quiet bool) (json.RawMessage, error) {
	if len(n.children) == 0 {
		return raw, nil
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return raw, nil
	}
	switch trimmed[0] {
	case '[':
		// A list of objects: segments, or Consul's HCL-style blocks.
		var elems []json.RawMessage
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return nil, fmt.Errorf("config: %s: %q: %v", w.file, path, err)
		}
		changed := false
		for i, e := range elems {
			out, err := w.walk(n, path, e, quiet)
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(out, e) {
				elems[i], changed = out, true
			}
		}
		if !changed {
			return raw, nil
		}
		joined := []byte{'['}
		for i, e := range elems {
			if i > 0 {
				joined = append(joined, ',')
			}
			joined = append(joined, e...)
		}
		return append(joined, ']'), nil
	case '{':
	default:
		// A scalar where an object belongs: FileConfig reports the type
		// for honoured keys; an unsupported one is dropped anyway.
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("config: %s: %v", w.file, err)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	changed := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("config: %s: %v", w.file, err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("config: %s: %v", w.file, err)
		}
		kp := joinPath(path, key)
		c := n.child(key)
		if c == nil {
			return nil, fmt.Errorf("config: %s: unknown key %q", w.file, kp)
		}
		unsupported := c.warn != "" || c.noEffect != ""
		if unsupported && !quiet && !inert(v) {
			text := fmt.Sprintf("%q is not supported yet: %s", kp, c.warn)
			if c.noEffect != "" {
				text = fmt.Sprintf("%q has no effect in consulx: %s", kp, c.noEffect)
			}
			w.warnings = append(w.warnings, ConfigWarning{File: w.file, Key: kp, Text: text})
		}
		sub, err := w.walk(c, kp, v, quiet || unsupported)
		if err != nil {
			return nil, err
		}
		if !c.decoded {
			changed = true
			continue
		}
		if !bytes.Equal(sub, v) {
			changed = true
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(sub)
	}
	if !changed {
		return raw, nil
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
