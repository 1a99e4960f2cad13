/*
 * files_job.h - the files session's work that may take long on a big
 * folder or file (ls, recursive rm, uploadhash), run on the libuv thread
 * pool so the loop never waits on it.
 */
#ifndef MESH_AGENT_FILES_JOB_H
#define MESH_AGENT_FILES_JOB_H

#include <jansson.h>
#include <uv.h>

#include "proto/files.h"

struct files_job;
/* Called on the loop thread when the job is done; the callee frees j. */
typedef void (*files_job_cb)(struct files_job *j, void *data);

/* Starts the job for c (FILES_LS, FILES_RM or FILES_UPLOADHASH; c is
 * borrowed, what the job needs is copied). Returns 0 (cb follows, always
 * asynchronously) or MESH_E_NOMEM / a libuv code (no callback). */
int files_job_start(uv_loop_t *loop, const struct files_cmd *c, files_job_cb cb,
                    void *data);
/* The reply to send (a new reference), or NULL when the command has none
 * (a successful rm). */
json_t *files_job_reply(struct files_job *j);
void files_job_free(struct files_job *j);

#endif
