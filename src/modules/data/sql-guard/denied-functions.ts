/**
 * Functions a guarded query may not call, whatever schema they are qualified with. Each group
 * says why in words a user understands; the reason reads "<name> is not allowed: <why>".
 * A read-only transaction does not stop most of these (sleeping, signalling, reading files,
 * taking advisory locks), and `set_config` could even turn the read-only mode off.
 */
interface DeniedGroup {
  names?: readonly string[];
  /** Whole families: every function whose name starts with one of these. */
  prefixes?: readonly string[];
  why: string;
}

const DENIED_GROUPS: readonly DeniedGroup[] = [
  {
    names: ["pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_current_logfile", "pg_logdir_ls"],
    prefixes: ["pg_ls_", "pg_file_"],
    why: "it reads or writes files on the database server",
  },
  { names: ["loread", "lowrite"], prefixes: ["lo_"], why: "it reads or writes large objects, which can reach files on the database server" },
  { prefixes: ["dblink"], why: "it opens connections to other databases" },
  { names: ["set_config", "current_setting"], why: "queries cannot read or change server settings" },
  // sleep and benchmark are MySQL's, which injection payloads try first; a customer's function of that name is no better.
  { names: ["sleep", "benchmark"], prefixes: ["pg_sleep"], why: "it can stall the database" },
  {
    names: ["pg_cancel_backend", "pg_terminate_backend", "pg_signal_backend", "pg_log_backend_memory_contexts"],
    why: "it signals other database sessions",
  },
  {
    names: [
      "pg_reload_conf",
      "pg_rotate_logfile",
      "pg_promote",
      "pg_switch_wal",
      "pg_create_restore_point",
      "pg_backup_start",
      "pg_backup_stop",
      "pg_wal_replay_pause",
      "pg_wal_replay_resume",
      "pg_export_snapshot",
      "pg_log_standby_snapshot",
      "pg_stat_statements_reset",
    ],
    prefixes: ["pg_stat_reset"],
    why: "it changes the state of the database server",
  },
  { prefixes: ["pg_advisory", "pg_try_advisory"], why: "it takes advisory locks, which can outlive the query and block other sessions" },
  { names: ["pg_import_system_collations"], why: "it creates collations in the system catalog" },
  {
    names: ["ts_stat"],
    prefixes: ["query_to_xml", "table_to_xml", "cursor_to_xml", "schema_to_xml", "database_to_xml"],
    why: "it runs SQL passed to it as text, which the guard cannot check",
  },
  { names: ["nextval", "setval"], why: "it changes a sequence" },
  { names: ["txid_current", "pg_current_xact_id"], why: "it assigns a transaction id, which a read-only query must not do" },
  {
    names: [
      "pg_create_logical_replication_slot",
      "pg_create_physical_replication_slot",
      "pg_drop_replication_slot",
      "pg_copy_logical_replication_slot",
      "pg_copy_physical_replication_slot",
    ],
    prefixes: ["pg_logical_", "pg_replication_"],
    why: "it works with replication, which queries must not touch",
  },
  { names: ["pg_notify"], why: "it sends notifications to other sessions" },
  { names: ["pg_stat_get_activity", "pg_stat_get_backend_activity"], why: "it shows what other database sessions are running" },
  {
    names: ["brin_summarize_new_values", "brin_summarize_range", "brin_desummarize_range", "gin_clean_pending_list"],
    why: "it changes index storage",
  },
];

/** Why `name` (the unqualified function name, any case) may not be called, or null when it may. */
export function deniedFunctionReason(name: string): string | null {
  const lower = name.toLowerCase();
  for (const group of DENIED_GROUPS) {
    if (group.names?.includes(lower) || group.prefixes?.some((prefix) => lower.startsWith(prefix))) return group.why;
  }
  return null;
}
