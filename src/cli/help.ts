/** The CLI's help texts: the overview and one per command. */

const COMMON = `Configuration comes from the environment, as for the app:
  LITESTREAM_S3_BUCKET, LITESTREAM_S3_ENDPOINT, LITESTREAM_S3_REGION,
  LITESTREAM_ACCESS_KEY_ID, LITESTREAM_SECRET_ACCESS_KEY (LITESTREAM_ENABLED defaults to
  true here) — or from --config path/to/litestream.yml.
The databases are the DB arguments; without one, LITESTREAM_DATABASES (comma-separated
paths) or the config file's dbs. When LITESTREAM_DATABASES is set, a DB must be one of them.

Options:
  --config FILE   use this litestream.yml instead of the environment
  --json          print JSON instead of a table
  -h, --help      show this help`;

export const HELP: Readonly<Record<string, string>> = {
  main: `Usage: litestream-node <command> [options]

Commands:
  backups [DB]       list every point a database can be restored to (either version)
  generations [DB]   list the generations of a database's backups (Litestream 0.3)
  snapshots [DB]     list its snapshots (Litestream 0.3)
  wal [DB]           list its WAL segments (Litestream 0.3)
  ltx [DB]           list its LTX files (Litestream 0.5)
  databases [DB...]  list the configured databases and their replicas
  restore [DB]       restore a database (point-in-time with --timestamp; a position with
                     --generation and --index on Litestream 0.3, --txid on 0.5)
  verify [DB]        prove the backup works end to end (sentinel row, sync, restore, check)
  status [DB...]     replication and backup state of every database
  config [DB...]     print the generated litestream.yml, secrets masked
  run [DB...] -- COMMAND [ARGS...]
                     restore, replicate, run COMMAND (any app, unchanged), then make the
                     final sync and exit with COMMAND's own status

DB may be omitted when only one database is configured.
Run "litestream-node <command> --help" for a command's options.

${COMMON}`,
  backups: `Usage: litestream-node backups [DB] [--json]

Lists every point DB can be restored to, oldest first: each snapshot and each later change,
when it reached the replica, and its position as "restore" takes it (--generation G --index I
on Litestream 0.3, --txid N on 0.5).`,
  generations: 'Usage: litestream-node generations [DB] [--json]\n\nLists the generations of DB in the replica.',
  snapshots: 'Usage: litestream-node snapshots [DB] [--json]\n\nLists the snapshots of DB in the replica.',
  wal: 'Usage: litestream-node wal [DB] [--json]\n\nLists the WAL segments of DB in the replica.',
  ltx: 'Usage: litestream-node ltx [DB] [--json]\n\nLists the LTX files of DB in the replica, at every level (Litestream 0.5).',
  databases: 'Usage: litestream-node databases [DB...] [--json]\n\nLists the configured databases and their replicas.',
  restore: `Usage: litestream-node restore [DB] [-o OUTPUT] [--timestamp T | --generation G [--index I] | --txid N] [--json]

Restores DB from the replica into OUTPUT (default: DB's own path, which must not exist).
Never overwrites a file. The result is integrity-checked before it is put in place.

  -o, --output FILE    where to write the restored database
  --timestamp T        the state at time T (RFC 3339, e.g. 2024-01-01T12:00:00Z)
  --generation G       Litestream 0.3: restore from generation G (see "generations")
  --index I            Litestream 0.3, with --generation: up to WAL index I (hex, as "wal" prints it)
  --txid N             Litestream 0.5: up to transaction N (hex, as "ltx" prints it)`,
  verify: `Usage: litestream-node verify [DB] [--timeout MS] [--json]

Writes a sentinel row to DB, waits until it reaches the replica, restores the replica to a
temp file, checks the row and PRAGMA integrity_check, then removes everything it created.
If no app is replicating DB, litestream-node replicates it for the duration of the check.`,
  status:
    'Usage: litestream-node status [DB...] [--json]\n\nShows, per database, who replicates it and the newest backup.',
  config:
    'Usage: litestream-node config [DB...]\n\nPrints the litestream.yml litestream-node generates, secrets masked.',
  run: `Usage: litestream-node run [DB...] [--metrics-port PORT [--health-details]] [--pass-secrets] -- COMMAND [ARGS...]

Restores every missing database (as the app's ensureRestored does: no backup yet starts
empty; an unreachable replica fails without starting COMMAND), starts replication, then runs
COMMAND with this environment (less litestream-node's own secrets: see --pass-secrets),
its output, and the signals this process gets (SIGTERM,
SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) passed on. When COMMAND exits, makes the final
sync and exits with COMMAND's status (128 + the signal's number if a signal ended it; 127
if it could not be started). Alerts (LITESTREAM_HEARTBEAT_URL, LITESTREAM_ALERT_WEBHOOK_URL)
work as in the app.

  --metrics-port PORT  serve GET /metrics (Prometheus; databases labelled by file name)
                       and GET /health (200 when healthy, 503 otherwise, with
                       {state, healthy, reason}) on 127.0.0.1:PORT
  --health-details     /health also shows the full status: absolute database paths,
                       litestream's pid, error text, the lease holder's host and pid
  --pass-secrets       give COMMAND LITESTREAM_ACCESS_KEY_ID, LITESTREAM_SECRET_ACCESS_KEY,
                       LITESTREAM_HEARTBEAT_URL and LITESTREAM_ALERT_WEBHOOK_URL too
                       (by default they are removed from its environment; litestream
                       still gets them)`,
};
