/*
 * mesh_limits.h - every externally visible limit and deadline, in one place.
 *
 * Parsers check these as bytes arrive and refuse input past them before
 * allocating. Tests assert both sides of each limit.
 */
#ifndef MESH_LIMITS_H
#define MESH_LIMITS_H

/* HTTP/1.1 (request line plus all header lines, and their count). */
#define MESH_HTTP_MAX_HEADER_BYTES (8 * 1024)
#define MESH_HTTP_MAX_HEADERS 64
#define MESH_HTTP_MAX_URL 2048
#define MESH_HTTP_MAX_BODY (1024 * 1024)
/* The web app's JSON requests to /api/ (a name, a password, an e-mail). */
#define MESH_API_MAX_BODY 4096
/* Password checks and hashes (argon2id, 64 MiB each) that /api/ requests
 * may have queued on the thread pool at once; more get 503. */
#define MESH_API_MAX_JOBS 32

/* WebSocket: the largest reassembled message we accept. A stock server's
 * core push is ~400 KB in one frame, and native-update blocks are 64 KiB. */
#define MESH_WS_MAX_MESSAGE (4 * 1024 * 1024)
/* Agent control messages are fragmented at this size, as the stock agent
 * does; the stock agent reassembles fragmented input only up to 65535. */
#define MESH_WS_AGENT_FRAGMENT 4096

/* Control channel. */
#define MESH_CC_MAX_CERT 8192    /* DER certificate in command 2 */
#define MESH_CC_MAX_SIG 4096     /* raw, or PKCS#7 with its cert (~1.6 KB) */
#define MESH_CC_MAX_HOSTNAME 255 /* command 3 computer name */
#define MESH_CC_MAX_TEXT 256     /* commands 30, 31 and 15 */
/* One message from an agent: JSON, replies and acknowledgements. The stock
 * agent itself reassembles no more than 65535 bytes. */
#define MESH_CC_MAX_MESSAGE (64 * 1024)

/* User API (/control.ashx). */
#define MESH_CTL_MAX_MESSAGE (256 * 1024) /* one JSON command */
#define MESH_CTL_MAX_EARLY 16             /* commands queued while signing in */
#define MESH_CTL_MAX_IDS 1000 /* devices or users named in one command */

/* Relay sessions on the agent (docs/sessions.md). */
#define MESH_AGENT_MAX_TUNNELS 16 /* tunnels open at once; more are refused */
/* The largest message a tunnel takes from the relay: upload chunks are at
 * most 64 KiB + 1 (stock viewer and meshctrl). */
#define MESH_TUNNEL_MAX_MESSAGE (1024 * 1024)
#define MESH_TUNNEL_START_MS 30000 /* relay connect to 'c' and a protocol */
#define MESH_TERM_KILL_MS 2000     /* SIGHUP to SIGKILL for a closed terminal */
/* Files protocol (p=5). */
#define MESH_FILES_MAX_COMMAND (256 * 1024) /* one JSON command */
#define MESH_FILES_MAX_PATH 4096            /* a normalised path */
#define MESH_FILES_MAX_NAME 255             /* one component */
#define MESH_FILES_MAX_NAMES 1000           /* names in one rm */
#define MESH_FILES_MAX_WINDOW 64            /* download blocks in flight */
#define MESH_FILES_MAX_LS 100000            /* entries in one listing */

/* The agent's JavaScript runtime (docs/agent-runtime.md). A call into a
 * core that runs longer than this stops the core; the heap budget makes a
 * leaking core fail inside JavaScript rather than eat the machine. */
#define MESH_JS_EXEC_TIMEOUT_MS 3000
#define MESH_JS_HEAP_MAX (64 * 1024 * 1024)
#define MESH_JS_MAX_ERROR 1024 /* bytes of an error reported to the server */
/* require('https').download defaults: largest file, and the whole
 * download's deadline (a core may ask for others). */
#define MESH_JS_DOWNLOAD_MAX (256ull * 1024 * 1024)
#define MESH_JS_DOWNLOAD_MS 300000

/* Back-pressure on every stream: stop reading a source when its sink has
 * more than HIGH bytes queued, resume below LOW; close past HARD. */
#define MESH_STREAM_HIGH_WATER (256 * 1024)
#define MESH_STREAM_LOW_WATER (64 * 1024)
#define MESH_STREAM_HARD_LIMIT (16 * 1024 * 1024)

/* Deadlines, in milliseconds. */
#define MESH_TLS_HANDSHAKE_MS 10000 /* TCP accept to TLS established */
#define MESH_HTTP_HEADERS_MS 10000  /* TLS established to full headers */
#define MESH_HTTP_IDLE_MS 60000     /* keep-alive idle between requests */
#define MESH_CC_AUTH_MS 30000       /* upgrade to secondary auth complete */
#define MESH_AGENT_IDLE_MS 150000   /* server: silent agent goes offline */
#define MESH_AGENT_PING_MS 120000   /* agent: ping after this much silence */
#define MESH_AGENT_PONG_MS 5000     /* agent: pong must come within this */
#define MESH_AGENT_CONNECT_MS 20000 /* agent: TCP+TLS+upgrade deadline */
#define MESH_AGENT_DB_BUSY_MS 2000  /* agent: wait for its database lock */
#define MESH_WS_CLOSE_MS 2000 /* ws_close: wait for the peer's close frame */
#define MESH_LINGER_MS 2000   /* graceful TCP close: wait for the peer's FIN */

/* Agent reconnect back-off (spec 2.4): first delay random in
 * [MIN, MAX), then each delay random in [t, 2t), capped. */
#define MESH_BACKOFF_FIRST_MIN_MS 500
#define MESH_BACKOFF_FIRST_MAX_MS 2000
#define MESH_BACKOFF_CAP_MIN_MS 240000
#define MESH_BACKOFF_CAP_MAX_MS 360000

/* .msh configuration. */
#define MESH_MSH_MAX_BYTES (64 * 1024)

/* Native agent update (spec §6.4). */
#define MESH_UPDATE_BLOCK 65531        /* command 14 payload: 65535 in all */
#define MESH_UPDATE_MAX_RUNNING 8      /* server: updates sent at once */
#define MESH_UPDATE_ACK_MS 30000       /* server: a block's ack must come */
#define MESH_UPDATE_BLOCK_GAP_MS 60000 /* agent: silence ends an update */
#define MESH_UPDATE_SELFTEST_MS 10000  /* agent: new binary's --self-test */
#define MESH_UPDATE_TRIAL_MS 60000     /* agent: new binary must log in */
#define MESH_UPDATE_CORE_MS 300000     /* server: a recovery-core update */
#define MESH_UPDATE_URL_S 600          /* server: its download link lives */
#define MESH_MSH_MAX_KEYS 128

/* Relay sessions (/meshrelay.ashx, docs/sessions.md). A tunnel is one
 * registered id with up to two sockets, so the total keeps the relay's
 * sockets (2 x MAX_TOTAL) well inside MESH_MAX_CONNECTIONS. */
#define MESH_RELAY_MAX_PER_USER 32 /* tunnels registered or open per user */
#define MESH_RELAY_MAX_TOTAL 4000  /* tunnels registered or open in all */
#define MESH_RELAY_MIN_ID 8        /* tunnel id length, [A-Za-z0-9] */
#define MESH_RELAY_MAX_ID 64
#define MESH_RELAY_REGISTER_MS 30000 /* msg/tunnel to the first join */
#define MESH_RELAY_PAIR_MS 15000     /* first join to the second */
/* Relay tokens (authcookie): lifetimes and clock skew, in seconds, as the
 * stock server's, and the longest token accepted in a query. */
#define MESH_RELAY_COOKIE_S (60 * 60)
#define MESH_RELAY_RCOOKIE_S (240 * 60)
#define MESH_RELAY_SKEW_S 30
#define MESH_RELAY_MAX_TOKEN 512
/* Terminal recordings: lines waiting for the disk, and one file's size;
 * past either the rest of the session is left out (marked truncated). */
#define MESH_REC_MAX_QUEUED (1024 * 1024)
#define MESH_REC_MAX_BYTES (64 * 1024 * 1024)

/* Server-wide. */
#define MESH_MAX_CONNECTIONS 19000 /* under the 20000 open-file limit */

#endif
