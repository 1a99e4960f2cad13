/*
 * service.h - `meshagent install` / `uninstall`: the agent as a systemd
 * service, registered where its binary is (nothing is copied, so its .msh
 * and identity beside it stay where they are).
 */
#ifndef MESH_AGENT_SERVICE_H
#define MESH_AGENT_SERVICE_H

#include <stddef.h>

#define AGENT_SERVICE_NAME "meshagent.service"
#define AGENT_SERVICE_DIR "/etc/systemd/system"

/* Writes the unit text for the binary at exe into out (cap bytes).
 * Returns 0, or MESH_E_TOO_LARGE / MESH_E_INVALID (a path systemd could
 * not quote: a control byte, or not absolute). Pure. */
int agent_service_unit(const char *exe, char *out, size_t cap);

/* Writes meshagent.service (0644) into unit_dir. Without unit_dir (NULL:
 * also $MESHAGENT_UNIT_DIR) it writes AGENT_SERVICE_DIR and runs
 * `systemctl daemon-reload` and `systemctl enable --now`; with one it
 * only writes the file (tests, or images prepared offline). Returns 0 or
 * a negative code, with a message on stderr. */
int agent_service_install(const char *exe, const char *unit_dir);

/* Stops and disables the service and removes its unit (same unit_dir
 * rule). The binary, its .msh and its identity stay. */
int agent_service_uninstall(const char *unit_dir);

#endif
