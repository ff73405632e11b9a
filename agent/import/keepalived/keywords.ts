// The keywords keepalived 2.2.7 knows, per block (from its parsers' keyword tables), so that an
// input keyword is either converted, reported as unmapped (keepalived knows it, lbagent has no
// equivalent), or reported as unknown (keepalived rejects it too: a typo).

const words = (s: string) => new Set(s.trim().split(/\s+/));

export const ROOT = words(`
  global_defs vrrp_instance vrrp_sync_group vrrp_script track_file vrrp_track_file vrrp_track_process
  static_ipaddress static_routes static_rules track_group garp_group linkbeat_interfaces
  interface_up_down_delays virtual_server virtual_server_group SSL bfd_instance net_namespace
  net_namespace_ipvs namespace_with_ipsets use_pid_dir instance child_wait_time linkbeat_use_polling`);

export const GLOBAL_DEFS = words(`
  process_names process_name vrrp_process_name checker_process_name lvs_process_name bfd_process_name
  router_id notification_email_from smtp_server smtp_helo_name smtp_connect_timeout notification_email
  smtp_alert startup_script startup_script_timeout shutdown_script shutdown_script_timeout
  max_auto_priority min_auto_priority_delay smtp_alert_vrrp smtp_alert_checker checker_log_all_failures
  dynamic_interfaces no_email_faults default_interface disable_local_igmp lvs_timeouts lvs_flush
  lvs_flush_on_stop lvs_flush_onstop lvs_sync_daemon vrrp_mcast_group4 vrrp_mcast_group6
  vrrp_garp_master_delay vrrp_garp_master_repeat vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat
  vrrp_garp_lower_prio_delay vrrp_garp_lower_prio_repeat vrrp_down_timer_adverts vrrp_garp_interval
  vrrp_gna_interval vrrp_min_garp vrrp_garp_extra_if vrrp_vmac_garp_intvl vrrp_lower_prio_no_advert
  vrrp_higher_prio_send_advert vrrp_version vrrp_iptables vrrp_ipsets nftables nftables_priority
  nftables_ifindex nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark nftables_counters
  vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_strict vrrp_priority vrrp_no_swap vrrp_rt_priority
  vrrp_cpu_affinity vrrp_rlimit_rttime vrrp_rlimit_rtime notify_fifo notify_fifo_script vrrp_notify_fifo
  vrrp_notify_fifo_script vrrp_notify_priority_changes fifo_write_vrrp_states_on_reload lvs_notify_fifo
  lvs_notify_fifo_script checker_priority checker_no_swap checker_rt_priority checker_cpu_affinity
  checker_rlimit_rttime checker_rlimit_rtime bfd_priority bfd_no_swap bfd_rt_priority bfd_cpu_affinity
  bfd_rlimit_rttime bfd_rlimit_rtime snmp_socket enable_traps enable_snmp_vrrp enable_snmp_keepalived
  enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3 enable_snmp_checker enable_dbus dbus_service_name
  script_user enable_script_security vrrp_netlink_cmd_rcv_bufs vrrp_netlink_cmd_rcv_bufs_force
  vrrp_netlink_monitor_rcv_bufs vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs
  process_monitor_rcv_bufs_force lvs_netlink_cmd_rcv_bufs lvs_netlink_cmd_rcv_bufs_force
  lvs_netlink_monitor_rcv_bufs lvs_netlink_monitor_rcv_bufs_force rs_init_notifies no_checker_emails
  vrrp_rx_bufs_policy vrrp_rx_bufs_multiplier vrrp_startup_delay log_unknown_vrids vmac_prefix
  vmac_addr_prefix umask random_seed reload_check_config reload_time_file reload_repeat reload_file
  include_check config_save_dir tmp_config_directory data_use_instance`);

export const VRRP_INSTANCE = words(`
  use_vmac use_vmac_addr vmac_xmit_base use_ipvlan unicast_peer unicast_fault_no_peer check_unicast_src
  old_unicast_checksum native_ipv6 state interface vrf dont_track_primary track_interface track_script
  track_file track_process track_bfd mcast_src_ip unicast_src_ip mcast_dst_ip track_src_ip
  virtual_router_id unicast_ttl version priority advert_int virtual_ipaddress virtual_ipaddress_excluded
  promote_secondaries linkbeat_use_polling virtual_routes virtual_rules accept no_accept
  skip_check_adv_addr strict_mode preempt nopreempt preempt_delay debug notify_backup notify_master
  notify_fault notify_stop notify_deleted notify notify_master_rx_lower_pri smtp_alert
  notify_priority_changes lvs_sync_daemon_interface garp_master_delay garp_master_refresh
  garp_master_repeat garp_master_refresh_repeat garp_lower_prio_delay garp_lower_prio_repeat
  down_timer_adverts garp_extra_if vmac_garp_intvl lower_prio_no_advert higher_prio_send_advert
  kernel_rx_buf_size authentication`);

export const AUTHENTICATION = words('auth_type auth_pass');

export const SYNC_GROUP = words(`
  group track_interface track_script track_file track_process track_bfd notify_backup notify_master
  notify_fault notify_stop notify smtp_alert global_tracking sync_group_tracking_weight
  notify_priority_changes`);

export const VRRP_SCRIPT = words('script interval timeout weight rise fall user init_fail');
export const TRACK_FILE = words('file weight init_file');

export const VIRTUAL_SERVER = words(`
  ip_family retry delay_before_retry warmup connect_timeout delay_loop inhibit_on_failure lb_algo
  lvs_sched hashed ops flag-1 flag-2 flag-3 sh-port sh-fallback mh-port mh-fallback lb_kind lvs_method
  persistence_engine persistence_timeout persistence_granularity protocol ha_suspend smtp_alert
  virtualhost snmp_name alpha omega quorum_up quorum_down quorum hysteresis weight sorry_server
  sorry_server_inhibit sorry_server_lvs_method real_server`);

export const REAL_SERVER = words(`
  weight lvs_method uthreshold lthreshold inhibit_on_failure notify_up notify_down alpha retry
  delay_before_retry warmup connect_timeout delay_loop smtp_alert virtualhost snmp_name
  HTTP_GET SSL_GET TCP_CHECK SMTP_CHECK DNS_CHECK MISC_CHECK BFD_CHECK UDP_CHECK PING_CHECK FILE_CHECK`);

const CHECKER_COMMON = `connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry
  delay_before_retry warmup delay_loop alpha log_all_failures`;

export const CHECKERS: Record<string, Set<string>> = {
  TCP_CHECK: words(CHECKER_COMMON),
  HTTP_GET: words(`${CHECKER_COMMON} nb_get_retry virtualhost http_protocol fast_recovery url`),
  SSL_GET: words(`${CHECKER_COMMON} nb_get_retry virtualhost http_protocol fast_recovery url enable_sni`),
  DNS_CHECK: words(`${CHECKER_COMMON} type name`),
  MISC_CHECK: words(
    'misc_path misc_timeout misc_dynamic user alpha retry delay_before_retry warmup delay_loop log_all_failures',
  ),
  SMTP_CHECK: words(`${CHECKER_COMMON} helo_name host`),
  UDP_CHECK: words(`${CHECKER_COMMON} payload require_reply min_reply_length max_reply_length`),
  PING_CHECK: words(CHECKER_COMMON),
  BFD_CHECK: words('name'),
  FILE_CHECK: words('track_file weight dynamic'),
};

export const URL = words(
  'path digest status_code virtualhost regex regex_no_match regex_options regex_min_offset regex_max_offset regex_stack',
);

/** The closest known keyword within two edits, for "did you mean". */
export function suggest(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase(), bestD);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
