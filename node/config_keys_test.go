package node

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// Consul's agent configuration keys, copied from hashicorp/consul
// agent/config/config.go and deprecated.go (the Config and DeprecatedConfig
// structs and the structs they nest), as dotted paths; "s1" stands for a
// name chosen by the operator (audit sinks). The test holds consulx's key
// table to exactly this list, so a key is never silently dropped nor
// refused when Consul would take it.

// consulHonoured are the keys consulx honours, with a value that asks for
// something (so it would warn if it were not honoured).
var consulHonoured = map[string]string{
	"datacenter": `"dc2"`, "node_name": `"n1"`, "data_dir": `"/d"`, "server": `true`,
	"bootstrap": `true`, "bootstrap_expect": `3`, "bind_addr": `"10.0.0.1"`, "advertise_addr": `"10.0.0.2"`,
	"client_addr": `"0.0.0.0"`, "log_level": `"debug"`,
	"ports.dns": `1`, "ports.http": `2`, "ports.serf_lan": `3`, "ports.serf_wan": `4`, "ports.server": `5`,
	"retry_join": `["a"]`, "retry_join_wan": `["b"]`, "retry_interval": `"5s"`, "start_join": `["c"]`,
	"start_join_wan": `["d"]`, "leave_on_terminate": `true`, "skip_leave_on_interrupt": `true`,
	"disable_update_check": `true`, "disable_remote_exec": `true`, "enable_script_checks": `true`,
	"enable_debug": `true`, "performance.raft_multiplier": `2`, "performance.rpc_hold_timeout": `"3s"`,
	"limits.http_max_conns_per_client": `5`, "limits.kv_max_value_size": `10`,
	"limits.rpc_rate": `100`, "limits.rpc_max_burst": `50`,
	"service": `{"name":"web"}`, "services": `[{"name":"web"}]`, "check": `{"name":"c","ttl":"5s"}`,
	"checks": `[{"name":"c","ttl":"5s"}]`, "domain": `"example."`, "recursors": `["1.1.1.1"]`,
	"dns_config.allow_stale": `true`, "dns_config.max_stale": `"1h"`, "dns_config.node_ttl": `"1s"`,
	"dns_config.service_ttl": `{"*":"5s"}`, "dns_config.udp_answer_limit": `5`, "dns_config.only_passing": `true`,
	"dns_config.enable_truncate": `true`, "dns_config.recursor_timeout": `"2s"`,
	"session_ttl_min": `"5s"`, "default_query_time": `"1m"`, "max_query_time": `"2m"`,
	"watches":            `[{"type":"key","key":"k","args":["true"]}]`,
	"retry_interval_wan": `"5s"`, "retry_max": `3`, "retry_max_wan": `3`,
	"encrypt": `"pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="`, "encrypt_verify_incoming": `true`,
	"encrypt_verify_outgoing": `true`, "disable_keyring_file": `true`,
	"ports.https": `8501`, "ca_file": `"/ca.pem"`, "ca_path": `"/ca"`, "cert_file": `"/c.pem"`, "key_file": `"/k.pem"`,
	"tls_min_version": `"TLSv1_3"`, "tls_cipher_suites": `"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"`,
	"verify_incoming": `true`, "verify_incoming_rpc": `true`, "verify_incoming_https": `true`,
	"verify_outgoing": `true`, "verify_server_hostname": `true`,
	// consulx's one key of its own: built-in KV replication (package
	// replicate), which Consul leaves to consul-replicate.
	"replicate": `{"prefixes":["a@dc9"]}`,
	// Access control (config_acl.go), with Consul's legacy spellings.
	"acl.enabled": `true`, "acl.enable_token_replication": `true`, "acl.token_ttl": `"10s"`,
	"acl.down_policy": `"deny"`, "acl.default_policy": `"deny"`, "acl.enable_token_persistence": `true`,
	"acl.tokens.initial_management": `"t"`, "acl.tokens.replication": `"t"`, "acl.tokens.agent_recovery": `"t"`,
	"acl.tokens.default": `"t"`, "acl.tokens.agent": `"t"`, "acl.tokens.master": `"t"`, "acl.tokens.agent_master": `"t"`,
	"acl_agent_master_token": `"t"`, "acl_agent_token": `"t"`, "acl_token": `"t"`, "acl_master_token": `"t"`,
	"acl_replication_token": `"t"`, "enable_acl_replication": `true`, "acl_datacenter": `"dc1"`,
	"acl_default_policy": `"deny"`, "acl_down_policy": `"deny"`, "acl_ttl": `"10s"`, "primary_datacenter": `"dc1"`,
}

func init() {
	// The tls blocks: every key in each, but verify_outgoing and
	// verify_server_hostname in https (see consulNoEffect, consulRefused).
	for _, block := range []string{"defaults", "internal_rpc", "https"} {
		for k, v := range map[string]string{"ca_file": `"/ca.pem"`, "ca_path": `"/ca"`, "cert_file": `"/c.pem"`,
			"key_file": `"/k.pem"`, "tls_min_version": `"TLSv1_3"`, "tls_cipher_suites": `"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"`,
			"verify_incoming": `true`, "verify_outgoing": `true`, "verify_server_hostname": `true`} {
			if block == "https" && (k == "verify_outgoing" || k == "verify_server_hostname") {
				continue
			}
			consulHonoured["tls."+block+"."+k] = v
		}
	}
}

// consulRefused are keys of Consul's structs that its builder refuses
// with any value; consulx refuses them the same way.
var consulRefused = strings.Fields(`
	tls.defaults.use_auto_cert tls.internal_rpc.use_auto_cert tls.https.use_auto_cert tls.https.verify_server_hostname
`)

// consulNotYet are accepted with a warning that they are not supported yet.
var consulNotYet = strings.Fields(`
	ports.grpc ports.grpc_tls ports.proxy_min_port ports.proxy_max_port ports.sidecar_min_port
	ports.sidecar_max_port ports.expose_min_port ports.expose_max_port
	performance.leave_drain_time
	limits.https_handshake_timeout limits.request_limits.mode limits.request_limits.read_rate
	limits.request_limits.write_rate limits.rpc_client_timeout limits.rpc_handshake_timeout
	limits.rpc_max_conns_per_client limits.txn_max_req_len
	dns_config.a_record_limit dns_config.disable_compression dns_config.recursor_strategy
	dns_config.enable_additional_node_meta_txt dns_config.soa.refresh dns_config.soa.retry dns_config.soa.expire
	dns_config.soa.min_ttl dns_config.use_cache dns_config.cache_max_age
	acl.policy_ttl acl.role_ttl acl.tokens.config_file_service_registration
	tls.grpc.ca_file tls.grpc.ca_path tls.grpc.cert_file tls.grpc.key_file tls.grpc.tls_min_version
	tls.grpc.tls_cipher_suites tls.grpc.verify_incoming tls.grpc.verify_outgoing tls.grpc.verify_server_hostname
	tls.grpc.use_auto_cert
	server_name enable_agent_tls_for_checks
	auto_encrypt.tls auto_encrypt.dns_san auto_encrypt.ip_san auto_encrypt.allow_tls
	connect.enabled connect.ca_provider connect.ca_config connect.enable_mesh_gateway_wan_federation
	connect.test_ca_leaf_root_change_spread config_entries.bootstrap enable_central_service_config
	primary_gateways primary_gateways_interval xds.update_max_per_second
	peering.enabled peering.test_allow_peer_registrations
	addresses.dns addresses.http addresses.https addresses.grpc addresses.grpc_tls
	advertise_addr_ipv4 advertise_addr_ipv6 advertise_addr_wan advertise_addr_wan_ipv4 advertise_addr_wan_ipv6
	serf_lan serf_wan serf_lan_allowed_cidrs serf_wan_allowed_cidrs tagged_addresses translate_wan_addrs
	rejoin_after_leave reconnect_timeout reconnect_timeout_wan
	advertise_reconnect_timeout
	gossip_lan.gossip_nodes gossip_lan.gossip_interval gossip_lan.probe_interval gossip_lan.probe_timeout
	gossip_lan.suspicion_mult gossip_lan.retransmit_mult
	gossip_wan.gossip_nodes gossip_wan.gossip_interval gossip_wan.probe_interval gossip_wan.probe_timeout
	gossip_wan.suspicion_mult gossip_wan.retransmit_mult
	alt_domain unix_sockets.group unix_sockets.mode unix_sockets.user
	node_id node_meta locality.region locality.zone pid_file auto_reload_config
	auto_config.enabled auto_config.intro_token auto_config.intro_token_file auto_config.server_addresses
	auto_config.dns_sans auto_config.ip_sans auto_config.authorization.enabled
	auto_config.authorization.static.claim_assertions auto_config.authorization.static.allow_reuse
	auto_config.authorization.static.jwt_supported_algs auto_config.authorization.static.bound_audiences
	auto_config.authorization.static.claim_mappings auto_config.authorization.static.list_claim_mappings
	auto_config.authorization.static.oidc_discovery_url auto_config.authorization.static.oidc_discovery_ca_cert
	auto_config.authorization.static.jwks_url auto_config.authorization.static.jwks_ca_cert
	auto_config.authorization.static.jwt_validation_pub_keys auto_config.authorization.static.bound_issuer
	auto_config.authorization.static.expiration_leeway auto_config.authorization.static.not_before_leeway
	auto_config.authorization.static.clock_skew_leeway
	autopilot.cleanup_dead_servers autopilot.last_contact_threshold autopilot.max_trailing_logs
	autopilot.min_quorum autopilot.server_stabilization_time autopilot.disable_upgrade_migration
	autopilot.redundancy_zone_tag autopilot.upgrade_version_tag
	http_config.block_endpoints http_config.allow_write_http_from http_config.response_headers
	http_config.use_cache http_config.max_header_bytes
	cache.entry_fetch_max_burst cache.entry_fetch_rate
	check_output_max_size check_update_interval discard_check_output discovery_max_stale
	enable_local_script_checks
	telemetry.circonus_api_app telemetry.circonus_api_token telemetry.circonus_api_url
	telemetry.circonus_broker_id telemetry.circonus_broker_select_tag telemetry.circonus_check_display_name
	telemetry.circonus_check_force_metric_activation telemetry.circonus_check_id
	telemetry.circonus_check_instance_id telemetry.circonus_check_search_tag telemetry.circonus_check_tags
	telemetry.circonus_submission_interval telemetry.circonus_submission_url telemetry.disable_hostname
	telemetry.dogstatsd_addr telemetry.dogstatsd_tags telemetry.retry_failed_connection
	telemetry.filter_default telemetry.prefix_filter telemetry.metrics_prefix
	telemetry.prometheus_retention_time telemetry.statsd_address telemetry.statsite_address
	log_json log_file log_rotate_duration log_rotate_bytes log_rotate_max_files log_sublevels
	enable_syslog syslog_facility
	raft_snapshot_threshold raft_snapshot_interval raft_trailing_logs
	raft_logstore.backend raft_logstore.disable_log_cache raft_logstore.verification.enabled
	raft_logstore.verification.interval raft_logstore.boltdb.no_freelist_sync raft_logstore.wal.segment_size_mb
	raft_boltdb.no_freelist_sync
`)

// consulNoEffect are accepted with a warning that they mean nothing for
// consulx: Consul Enterprise, Consul internals, its web UI, HCP.
var consulNoEffect = strings.Fields(`
	acl.enable_key_list_policy acl_enable_key_list_policy acl.msp_disable_bootstrap
	acl.tokens.managed_service_provider.accessor_id acl.tokens.managed_service_provider.secret_id
	dns_config.prefer_namespace tls_prefer_server_cipher_suites tls.https.verify_outgoing raft_protocol protocol
	disable_anonymous_signature disable_coordinates disable_host_node_id disable_http_unprintable_char_filter
	rpc.enable_streaming use_streaming_backend snapshot_agent
	cloud.resource_id cloud.client_id cloud.client_secret cloud.hostname cloud.auth_url cloud.scada_address
	ui ui_dir ui_content_path ui_config.enabled ui_config.dir ui_config.content_path ui_config.metrics_provider
	ui_config.metrics_provider_files ui_config.metrics_provider_options_json ui_config.metrics_proxy.base_url
	ui_config.metrics_proxy.add_headers.name ui_config.metrics_proxy.add_headers.value
	ui_config.metrics_proxy.path_allowlist ui_config.dashboard_url_templates
	ae_interval check_deregister_interval_min check_reap_interval
	consul.coordinate.update_batch_size consul.coordinate.update_max_batches consul.coordinate.update_period
	consul.raft.election_timeout consul.raft.heartbeat_timeout consul.raft.leader_lease_timeout
	consul.server.health_interval revision segment_limit segment_name_limit sync_coordinate_interval_min
	sync_coordinate_rate_target version version_prerelease version_metadata build_date
	license_poll_base_time license_poll_max_time license_update_base_time license_update_max_time
	audit.enabled audit.sink.s1.type audit.sink.s1.format audit.sink.s1.path audit.sink.s1.delivery_guarantee
	audit.sink.s1.mode audit.sink.s1.rotate_bytes audit.sink.s1.rotate_duration audit.sink.s1.rotate_max_files
	read_replica non_voting_server segment segments.advertise segments.bind segments.name segments.port
	segments.rpc_listener partition license_path reporting.license.enabled
`)

// consulValue is a value for path that asks for something; keys FileConfig
// decodes despite warning (tls.https.verify_outgoing) need their real type.
func consulValue(path string) string {
	if v, ok := consulHonoured[path]; ok {
		return v
	}
	if strings.HasPrefix(path, "ports.") {
		return "8501"
	}
	if path == "tls.https.verify_outgoing" {
		return "true"
	}
	return `"x"`
}

// docFor nests value under the dotted path: a.b -> {"a":{"b":value}}.
func docFor(path, value string) string {
	keys := strings.Split(path, ".")
	doc := value
	for i := len(keys) - 1; i >= 0; i-- {
		doc = `{"` + keys[i] + `":` + doc + `}`
	}
	return doc
}

// TestEveryConsulKeyIsKnown: each key of Consul's agent configuration is
// honoured without a word, or accepted with one warning that names it.
func TestEveryConsulKeyIsKnown(t *testing.T) {
	check := func(t *testing.T, path string) *Config {
		t.Helper()
		const file = "/etc/consul.d/ported.json"
		fc, err := ParseConfigFile(file, strings.NewReader(docFor(path, consulValue(path))))
		if err != nil {
			t.Fatalf("Consul takes %q, consulx refused it: %v", path, err)
		}
		c := DefaultConfig()
		c.Merge(fc)
		return c
	}
	for path := range consulHonoured {
		t.Run(path, func(t *testing.T) {
			if c := check(t, path); len(c.Warnings) != 0 {
				t.Errorf("honoured key %q warned: %+v", path, c.Warnings)
			}
		})
	}
	for _, tc := range []struct {
		paths []string
		says  string
	}{{consulNotYet, "is not supported yet: "}, {consulNoEffect, "has no effect in consulx: "}} {
		for _, path := range tc.paths {
			t.Run(path, func(t *testing.T) {
				c := check(t, path)
				if len(c.Warnings) != 1 {
					t.Fatalf("want one warning for %q, got %+v", path, c.Warnings)
				}
				w := c.Warnings[0]
				if w.Key != path && !strings.HasPrefix(path, w.Key+".") {
					t.Errorf("warning names %q, want %q or a parent", w.Key, path)
				}
				if w.File != "/etc/consul.d/ported.json" {
					t.Errorf("warning names file %q", w.File)
				}
				prefix := `"` + w.Key + `" ` + tc.says
				if !strings.HasPrefix(w.Text, prefix) || len(w.Text) <= len(prefix) || strings.ContainsAny(w.Text, "\r\n") {
					t.Errorf("warning %q: want one line %q followed by what is not enforced", w.Text, prefix)
				}
			})
		}
	}
}

// TestKeyTableIsConsulsKeySet: the loader knows no key beyond Consul's
// (and consulx's own `replicate`), so a typo is never taken for a key, and
// honoured keys reach FileConfig.
func TestKeyTableIsConsulsKeySet(t *testing.T) {
	listed := map[string]bool{}
	for p := range consulHonoured {
		listed[p] = true
	}
	for _, p := range append(append(append([]string{}, consulNotYet...), consulNoEffect...), consulRefused...) {
		if listed[p] {
			t.Errorf("%q listed twice", p)
		}
		listed[p] = true
	}
	var extra []string
	var walk func(n *keyNode, path string, unsupported bool)
	walk = func(n *keyNode, path string, unsupported bool) {
		unsupported = unsupported || n.warn != "" || n.noEffect != ""
		if len(n.children) == 0 {
			if !listed[path] {
				extra = append(extra, path)
			}
			if !unsupported && !n.decoded {
				t.Errorf("honoured key %q has no FileConfig field and would be refused by the decoder", path)
			}
			return
		}
		for k, c := range n.children {
			if k == "*" {
				k = "s1"
			}
			walk(c, joinPath(path, k), unsupported)
		}
	}
	walk(consulKeys, "", false)
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("keys the loader accepts that are not Consul's (or missing from this test's lists): %v", extra)
	}
}

func TestConfigWarnings(t *testing.T) {
	parse := func(t *testing.T, src string) []ConfigWarning {
		t.Helper()
		c := DefaultConfig()
		c.Merge(parseOK(t, src))
		return c.Warnings
	}
	t.Run("tls.grpc names what is not there", func(t *testing.T) {
		ws := parse(t, `{"tls": {"grpc": {"verify_incoming": true}}}`)
		if len(ws) != 1 || ws[0].Text != `"tls.grpc" is not supported yet: there is no gRPC listener` {
			t.Errorf("warnings %+v", ws)
		}
	})
	t.Run("an acl block honoured in full warns of nothing", func(t *testing.T) {
		if ws := parse(t, `{"acl": {"enabled": true, "default_policy": "deny", "tokens": {"agent": "t"}}}`); len(ws) != 0 {
			t.Errorf("warnings %+v", ws)
		}
		ws := parse(t, `{"acl": {"enabled": true, "role_ttl": "5s"}}`)
		if len(ws) != 1 || ws[0].Key != "acl.role_ttl" || !strings.Contains(ws[0].Text, "no ACL roles") {
			t.Errorf("warnings %+v", ws)
		}
	})
	t.Run("order of the file", func(t *testing.T) {
		ws := parse(t, `{"log_file": "/x", "datacenter": "dc1", "pid_file": "/k", "ports": {"grpc": 8502}}`)
		var keys []string
		for _, w := range ws {
			keys = append(keys, w.Key)
		}
		if strings.Join(keys, " ") != "log_file pid_file ports.grpc" {
			t.Errorf("warned keys %v", keys)
		}
	})
	t.Run("keys match case-insensitively, like Consul's decoder", func(t *testing.T) {
		c := DefaultConfig()
		c.Merge(parseOK(t, `{"Log_File": "/x", "DataCenter": "dc3"}`))
		if len(c.Warnings) != 1 || c.Warnings[0].Key != "Log_File" || c.Datacenter != "dc3" {
			t.Errorf("warnings %+v datacenter %q", c.Warnings, c.Datacenter)
		}
	})
	t.Run("a warned key FileConfig decodes is still stored", func(t *testing.T) {
		c := DefaultConfig()
		c.Merge(parseOK(t, `{"tls": {"https": {"verify_outgoing": true}}}`))
		if c.tls.https.verifyOutgoing != (tlsBool{true, "tls.https.verify_outgoing"}) || len(c.Warnings) != 1 || c.Warnings[0].Key != "tls.https.verify_outgoing" {
			t.Errorf("stored %+v warnings %+v", c.tls.https.verifyOutgoing, c.Warnings)
		}
	})
	// Writing a feature off, or an empty value, asks for nothing.
	for _, src := range []string{
		`{"encrypt": ""}`, `{"acl": {"enabled": false, "default_policy": "deny"}}`, `{"ports": {"https": -1, "grpc": -1}}`,
		`{"ui": false}`, `{"ui_config": {"enabled": false}}`, `{"connect": {}}`, `{"retry_max": 0}`,
		`{"node_meta": {}}`, `{"verify_incoming": false, "verify_outgoing": false}`, `{"tls": {"defaults": {"ca_file": ""}}}`,
	} {
		t.Run("quiet "+src, func(t *testing.T) {
			if ws := parse(t, src); len(ws) != 0 {
				t.Errorf("warnings %+v", ws)
			}
		})
	}
	t.Run("each file warns for itself", func(t *testing.T) {
		c := DefaultConfig()
		for _, f := range []string{"a.json", "b.json"} {
			fc, err := ParseConfigFile(f, strings.NewReader(`{"acl": {"role_ttl": "5s"}}`))
			if err != nil {
				t.Fatal(err)
			}
			c.Merge(fc)
		}
		if len(c.Warnings) != 2 || c.Warnings[0].File != "a.json" || c.Warnings[1].File != "b.json" {
			t.Errorf("warnings %+v", c.Warnings)
		}
	})
	t.Run("unsupported keys stay out of Extra", func(t *testing.T) {
		c := DefaultConfig()
		c.Merge(parseOK(t, `{"acl": {"role_ttl": "5s"}, "node_meta": {"a": "b"}, "http_config": {"response_headers": {"A": "b"}}}`))
		if c.Extra != nil {
			t.Errorf("Extra = %v", c.Extra)
		}
	})
}

// TestKeysConsulRejects: a key Consul itself would refuse stops the agent
// with one line naming the file and the key's full path.
func TestKeysConsulRejects(t *testing.T) {
	for _, tc := range []struct{ src, key string }{
		{`{"bogus": 1}`, `"bogus"`},
		{`{"acl": {"enabeld": true}}`, `"acl.enabeld"`},
		{`{"acl": {"tokens": {"agnet": "x"}}}`, `"acl.tokens.agnet"`},
		{`{"tls": {"defaults": {"verify_incomin": true}}}`, `"tls.defaults.verify_incomin"`},
		{`{"tls": {"rpc": {}}}`, `"tls.rpc"`},
		{`{"acl_enforce_version_8": true}`, `"acl_enforce_version_8"`},
		{`{"audit": {"sink": {"s1": {"typo": "file"}}}}`, `"audit.sink.s1.typo"`},
		{`{"segments": [{"name": "a"}, {"nmae": "b"}]}`, `"segments.nmae"`},
		{`{"dns_config": {"alow_stale": true}}`, `"dns_config.alow_stale"`},
		{`{"dns_config": {"soa": {"minttl": 1}}}`, `"dns_config.soa.minttl"`},
		{`{"http_config": {"headers": {}}}`, `"http_config.headers"`},
		{`{"performance": {"leave_drain": "5s"}}`, `"performance.leave_drain"`},
		{`{"telemetry": {"statsd_addr": "x"}}`, `"telemetry.statsd_addr"`},
	} {
		t.Run(tc.key, func(t *testing.T) {
			fc, err := ParseConfigFile("/etc/c.json", strings.NewReader(tc.src))
			if fc != nil {
				t.Error("config returned with the error")
			}
			checkConfigErr(t, err, "/etc/c.json", "unknown key "+tc.key)
		})
	}
	for _, path := range consulRefused {
		t.Run(path, func(t *testing.T) {
			// Even false: Consul's builder refuses the key being set at all.
			_, err := ParseConfigFile("/etc/c.json", strings.NewReader(docFor(path, "false")))
			checkConfigErr(t, err, "/etc/c.json", `"`+path+`"`, "only valid in the tls.")
		})
	}
	t.Run("bootstrap with bootstrap_expect", func(t *testing.T) {
		_, err := ParseConfigFile("/etc/c.json", strings.NewReader(`{"bootstrap": true, "bootstrap_expect": 3}`))
		checkConfigErr(t, err, "/etc/c.json", "bootstrap", "mutually exclusive")
	})
}

// TestHonouredKeysReachConfig: bootstrap and start_join_wan are Consul's
// spellings of what -bootstrap and -join-wan do.
func TestHonouredKeysReachConfig(t *testing.T) {
	c := DefaultConfig()
	c.Merge(parseOK(t, `{"server": true, "bootstrap": true, "start_join_wan": ["w1"], "retry_join_wan": ["w2"]}`))
	if c.BootstrapExpect != 1 || strings.Join(c.RetryJoinWAN, ",") != "w2,w1" {
		t.Errorf("bootstrap_expect %d retry_join_wan %v", c.BootstrapExpect, c.RetryJoinWAN)
	}
	c = DefaultConfig()
	c.Merge(parseOK(t, `{"bootstrap": false}`))
	if c.BootstrapExpect != 0 {
		t.Errorf("bootstrap false set bootstrap_expect %d", c.BootstrapExpect)
	}
	// Lists of objects keep their bytes when nothing is dropped.
	raw := `{"services": [ {"name": "a"} ], "dns_config": {"allow_stale": true, "a_record_limit": 1}}`
	c = DefaultConfig()
	c.Merge(parseOK(t, raw))
	if got := string(c.Extra["services"][0]); got != `[ {"name": "a"} ]` {
		t.Errorf("services = %s", got)
	}
	var dc map[string]any
	if err := json.Unmarshal(c.Extra["dns_config"][0], &dc); err != nil || len(dc) != 1 || dc["allow_stale"] != true {
		t.Errorf("dns_config = %s (%v)", c.Extra["dns_config"][0], err)
	}
}
