/*
 * update.h - meshagent's native self-update (spec §6.3, §6.4).
 *
 * Only when the .msh says the server is meshd (agent_config.
 * server_is_meshd): the agent then reports its real agent hash in command
 * 12 and accepts commands 13/14; otherwise it answers 48 zero bytes and
 * ignores them, so a stock server never replaces it.
 *
 * The received binary is written to <exe>.update (0700) block by block,
 * each block acknowledged once written. At the end its agent hash must be
 * the one the server sends, and `<exe>.update self-test --for <exe>` must
 * exit 0 within MESH_UPDATE_SELFTEST_MS (it proves the new binary starts
 * and reads this agent's .msh and identity). Then the running binary is
 * kept as <exe>.old (a hard link), <exe>.update is renamed over <exe>
 * (atomic), and the agent restarts: execv of the same path and arguments
 * in the foreground, or exit(AGENT_EXIT_RESTART) under systemd (`run
 * --service`, Restart=always). The identity in <exe>.db is untouched.
 *
 * The new binary is on trial while <exe>.old exists: once it has logged
 * in to the server it deletes <exe>.old; if it has not within
 * MESH_UPDATE_TRIAL_MS of the swap, it puts <exe>.old back, remembers its
 * own hash as rejected (an offer of that hash is then discarded) and
 * restarts into the old binary. A transfer that is cut (disconnection, a
 * gap of MESH_UPDATE_BLOCK_GAP_MS), a wrong hash, a write error or a
 * failed self-test deletes <exe>.update and changes nothing else.
 *
 * Everything runs on the loop thread; hashing and the self-test do not
 * block it (thread pool, child process).
 */
#ifndef MESH_AGENT_UPDATE_H
#define MESH_AGENT_UPDATE_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct buf;

/* The exit status asking systemd to start the (new) binary again. */
#define AGENT_EXIT_RESTART 75

/* Prepares updates for a (borrowed, started far enough that a->cfg and
 * a->db are loaded): finds the executable, hashes it when the server is
 * meshd, and resumes or ends a trial. Returns 0 or a negative code
 * (logged); updates are then simply off. */
int agent_update_start(struct agent *a);
/* The same for the binary at exe (borrowed) instead of this process's
 * own: for tests, which must not write beside the test program. */
int agent_update_start_at(struct agent *a, const char *exe);
/* Closes its handles (agent_stop); a transfer in progress is dropped. */
void agent_update_stop(struct agent *a);

/* A server command (p, n: the whole message). Returns 1 when it was one
 * of 12, 13, 14 and updates are on (any reply has been sent), else 0. */
int agent_update_command(struct agent *a, const uint8_t *p, size_t n);

/* The control channel authenticated: ends a trial successfully. */
void agent_update_authenticated(struct agent *a);
/* The control channel closed: a transfer in progress is dropped. */
void agent_update_disconnected(struct agent *a);

/* The recovery core (spec §6.5) downloaded the binary to
 * agent_update_path(a) and checked its SHA-384: from here it is installed
 * as a native update's would be (agent hash = want, self-test, swap,
 * restart, trial). Returns 0 when started (failures are logged and
 * reported to the server as agentupdatefailed), MESH_E_INVALID when
 * updates are off (not meshd), MESH_E_PROTO_STATE when one is running. */
int agent_update_install(struct agent *a, const uint8_t want[48]);
/* Where a downloaded binary must be put: "<exe>.update" (borrowed), or
 * NULL when updates are not prepared. */
const char *agent_update_path(const struct agent *a);

/* Bytes of the transfer in progress written and acknowledged (0 when
 * none): a status for logs and tests. */
uint64_t agent_update_received(const struct agent *a);

/* `meshagent self-test`: loads the .msh at msh and the identity in the
 * database at db (never creating one) and a TLS context. Returns 0 when
 * this binary could run as that agent. */
int agent_self_test(const char *msh, const char *db);

#endif
