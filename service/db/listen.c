/*
 * listen.c
 *      A dedicated connection that LISTENs on one channel and sleeps in
 *      poll() until a notification, a timeout or an interruption.
 *
 * The listener owns its own connection (never pooled: LISTEN is a session
 * state).  A pipe lets another thread or a signal handler interrupt a
 * wait.  After the connection is lost the next wait reconnects; since
 * notifications sent meanwhile are gone, TR_E_DB_CONNECT tells the caller
 * to look for work itself.  One thread waits; any thread interrupts.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"

struct tr_db_listener {
    struct tr_db *db;
    PGconn *pg;
    char listen_sql[96];
    int wake[2];                /* pipe: [0] polled, [1] written */
};

static enum tr_err
listener_connect(struct tr_db_listener *l, struct tr_error *err)
{
    enum tr_err rc;

    l->pg = tr_db__connect(l->db->conninfo, err);
    if (l->pg == NULL)
        return TR_E_DB_CONNECT;
    rc = tr_db__simple(l->pg, l->listen_sql, err);
    if (rc != TR_OK) {
        PQfinish(l->pg);
        l->pg = NULL;
    }
    return rc;
}

enum tr_err
tr_db_listener_new(struct tr_db *db, const char *channel,
                   struct tr_db_listener **out, struct tr_error *err)
{
    struct tr_db_listener *l;
    enum tr_err rc;

    *out = NULL;
    if (channel[0] == '\0' || strlen(channel) > 63 ||
        strspn(channel, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
            strlen(channel))
        return TR_ERROR(err, TR_E_INVAL, "invalid channel name \"%s\"",
                        channel);
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    l->db = db;
    snprintf(l->listen_sql, sizeof(l->listen_sql), "LISTEN %s", channel);
    if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(l);
        return TR_ERROR(err, TR_E_IO, "could not create a pipe: %s",
                        strerror(errno));
    }

    rc = listener_connect(l, err);
    if (rc != TR_OK) {
        tr_db_listener_free(l);
        return rc;
    }
    *out = l;
    return TR_OK;
}

/* Consume every pending notification; true when there was at least one. */
static bool
drain(PGconn *pg)
{
    PGnotify *n;
    bool any = false;

    while ((n = PQnotifies(pg)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

static bool
drain_pipe(int fd)
{
    char buf[64];
    bool any = false;

    while (read(fd, buf, sizeof(buf)) > 0)
        any = true;
    return any;
}

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum tr_err
tr_db_listener_wait(struct tr_db_listener *l, int timeout_ms,
                    struct tr_error *err)
{
    long long deadline = now_ms() + timeout_ms;
    struct pollfd pfd[2];
    int left;

    if (l->pg == NULL && listener_connect(l, err) != TR_OK)
        return TR_E_DB_CONNECT;

    for (;;) {
        if (drain_pipe(l->wake[0]))
            return TR_E_AGAIN;
        if (drain(l->pg))
            return TR_OK;

        left = (int) (deadline - now_ms());
        if (left <= 0)
            return TR_ERROR(err, TR_E_TIMEOUT, "no notification");
        pfd[0] = (struct pollfd){.fd = PQsocket(l->pg), .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = l->wake[0], .events = POLLIN};
        if (poll(pfd, 2, left) < 0 && errno != EINTR)
            return TR_ERROR(err, TR_E_IO, "poll failed: %s",
                            strerror(errno));

        /* Read what the server sent; a failure means it is gone. */
        if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
            (PQconsumeInput(l->pg) == 0 ||
             PQstatus(l->pg) != CONNECTION_OK)) {
            PQfinish(l->pg);
            l->pg = NULL;
            return TR_ERROR(err, TR_E_DB_CONNECT,
                            "the listening connection was lost");
        }
    }
}

void
tr_db_listener_interrupt(struct tr_db_listener *l)
{
    ssize_t n = write(l->wake[1], "x", 1);

    (void) n;                   /* a full pipe is already a wake-up */
}

void
tr_db_listener_free(struct tr_db_listener *l)
{
    if (l == NULL)
        return;
    PQfinish(l->pg);
    close(l->wake[0]);
    close(l->wake[1]);
    free(l);
}
