/*
 * cli.h - meshd's offline commands: they work on a data folder whether or
 * not a server is running on it (SQLite in WAL mode lets both in).
 */
#ifndef MESH_SERVER_CLI_H
#define MESH_SERVER_CLI_H

/* Each returns a process exit status and prints errors to stderr. */
int cli_create_group(const char *data_dir, const char *name);
/* group is an id or a name; url overrides the server's configured
 * wss://name:port/agent.ashx. */
int cli_agent_config(const char *data_dir, const char *group, const char *url);
int cli_list_devices(const char *data_dir, int json);

#endif
