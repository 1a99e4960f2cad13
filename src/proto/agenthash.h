/*
 * agenthash.h - the agent executable hash of command 12 (spec §6.3), which
 * both sides compute the same way: SHA-384 of the binary without the .msh
 * a server may have appended to it (§3.3). So every download of one build,
 * whatever group's .msh it carries, has the build's hash, and meshd can
 * tell whether an agent runs the binary it holds.
 *
 * Only the Linux rule is implemented: a Windows PE binary would also have
 * its checksum and certificate-table fields zeroed and its Authenticode
 * table left out (§6.3 step 1); meshd holds no Windows agent.
 *
 * Pure functions over bytes: no I/O, no state; callable from any thread.
 */
#ifndef MESH_PROTO_AGENTHASH_H
#define MESH_PROTO_AGENTHASH_H

#include <stddef.h>
#include <stdint.h>

#define AGENTHASH_LEN 48

/* The agentVersion meshagent puts in command 3 (spec §4.2) when its .msh
 * says the server is meshd: "mshd". The stock agent always sends 0, so
 * meshd can tell its own agent, the only one it will update (replacing a
 * stock agent would lose its identity, kept in another format). */
#define AGENT_VERSION_MESHAGENT 0x6D736864u

/*
 * How many leading bytes of a file of file_size bytes the hash covers.
 * tail (borrowed) is the file's last tail_len bytes (tail_len <=
 * file_size; 20 are enough). If they end with the .msh marker and the
 * big-endian length before it fits in the file, the result is file_size
 * minus the text, its length and the marker; otherwise (no marker, a tail
 * too short to tell, or a length larger than the file: a truncated or
 * damaged trailer) it is file_size, so such a file is hashed whole, as
 * any other byte string would be.
 */
uint64_t agenthash_end(const uint8_t *tail, size_t tail_len,
                       uint64_t file_size);

/* Writes the agent hash of the n bytes at p (borrowed: a whole binary)
 * into out: SHA-384 of p[0, agenthash_end). */
void agenthash_buf(const uint8_t *p, size_t n, uint8_t out[AGENTHASH_LEN]);

/* Nonzero if h is 48 zero bytes ("do not update me", §6.3) or 48 0xFF
 * bytes ("force an update"): neither names a binary. */
int agenthash_is_zero(const uint8_t h[AGENTHASH_LEN]);
int agenthash_is_force(const uint8_t h[AGENTHASH_LEN]);

#endif
