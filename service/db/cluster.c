/*
 * cluster.c
 *      The embedded PostgreSQL cluster: a private, socket-only server
 *      under <data_dir>/pg that triage creates, starts, reuses and stops.
 *
 * Layout: <data_dir>/pg/data (the cluster, made by initdb), pg/sock (the
 * Unix socket; a short directory under /tmp instead when the path would
 * pass the 107-byte limit of socket addresses), pg/server.log, and
 * pg/start.lock, an flock that serialises processes starting at once.
 * The server listens on no TCP address and trusts local connections; the
 * socket directory is private to the user that runs it.
 *
 * PostgreSQL refuses to run as root, so when we are root the programs run
 * as conf.pg_user (fork, setgid, initgroups, setuid, exec) and the
 * directories are handed to that user.  The postmaster outlives the
 * process that started it: whether it runs is read from postmaster.pid.
 * Main thread only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"
#include "log.h"

#define PATH_LEN 1024
#define PG_PORT "5432"

struct tr_db_cluster {
    char root[PATH_LEN];        /* <data_dir>/pg */
    char data[PATH_LEN + 32];   /* root/data */
    char sock[PATH_LEN + 32];
    char log[PATH_LEN + 32];
    char bin[PATH_LEN];
    char user[64];
    uid_t uid;                  /* who runs the server */
    gid_t gid;
    bool as_other;              /* we are root: switch to uid/gid */
    bool sock_in_tmp;
    unsigned flags;
    bool started_here;
};

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* FNV-1a, only to name the short socket directory after the data dir. */
static unsigned long long
hash_path(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;

    for (; *s != '\0'; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return h;
}

static enum tr_err
make_paths(struct tr_db_cluster *cl, const char *data_dir,
           struct tr_error *err)
{
    char cwd[PATH_LEN];
    int n;

    if (data_dir[0] == '/') {
        n = snprintf(cl->root, sizeof(cl->root), "%s/pg", data_dir);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return TR_ERROR(err, TR_E_DB_CLUSTER,
                            "could not get the current directory: %s",
                            strerror(errno));
        n = snprintf(cl->root, sizeof(cl->root), "%s/%s/pg", cwd,
                     strncmp(data_dir, "./", 2) == 0 ? data_dir + 2
                                                     : data_dir);
    }
    if (n < 0 || (size_t) n >= sizeof(cl->root) - 32)
        return TR_ERROR(err, TR_E_DB_CLUSTER, "data directory path too long");
    if (strchr(cl->root, '\'') != NULL || strchr(cl->root, '\\') != NULL)
        return TR_ERROR(err, TR_E_DB_CLUSTER,
                        "data directory \"%s\" may not contain quotes or "
                        "backslashes", data_dir);

    snprintf(cl->data, sizeof(cl->data), "%s/data", cl->root);
    snprintf(cl->log, sizeof(cl->log), "%s/server.log", cl->root);
    snprintf(cl->sock, sizeof(cl->sock), "%s/sock", cl->root);

    /* A socket address holds 107 bytes; the file is sock/.s.PGSQL.5432. */
    if (strlen(cl->sock) + sizeof("/.s.PGSQL." PG_PORT) >
        sizeof(((struct sockaddr_un *) 0)->sun_path)) {
        snprintf(cl->sock, sizeof(cl->sock), "/tmp/triage-pg-%016llx",
                 hash_path(cl->root));
        cl->sock_in_tmp = true;
    }
    return TR_OK;
}

static enum tr_err
check_programs(const struct tr_db_cluster *cl, struct tr_error *err)
{
    static const char *const progs[] = {"initdb", "pg_ctl", "postgres"};
    char path[PATH_LEN + 64];

    for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", cl->bin, progs[i]);
        if (access(path, X_OK) != 0)
            return TR_ERROR(err, TR_E_DB_CLUSTER,
                            "PostgreSQL program \"%s\" not found; install "
                            "postgresql-15 or run scripts/install-deps "
                            "(or set pg_bin_dir)", path);
    }
    return TR_OK;
}

enum tr_err
tr_db_cluster_new(const struct tr_conf *conf, unsigned flags,
                  struct tr_db_cluster **out, struct tr_error *err)
{
    struct tr_db_cluster *cl;
    struct passwd *pw;
    enum tr_err rc;

    *out = NULL;
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL)
        return TR_ERROR(err, TR_E_NOMEM, "out of memory");
    cl->flags = flags;
    snprintf(cl->bin, sizeof(cl->bin), "%s", conf->pg_bin_dir);

    rc = make_paths(cl, conf->data_dir, err);
    if (rc == TR_OK)
        rc = check_programs(cl, err);
    if (rc != TR_OK)
        goto fail;

    /* Root hands the cluster to pg_user; anyone else runs it as self. */
    cl->as_other = geteuid() == 0;
    pw = cl->as_other ? getpwnam(conf->pg_user) : getpwuid(geteuid());
    if (pw == NULL) {
        rc = TR_ERROR(err, TR_E_DB_CLUSTER,
                      "system user \"%s\" does not exist; install "
                      "postgresql-15 or set pg_user",
                      cl->as_other ? conf->pg_user : "(self)");
        goto fail;
    }
    if (cl->as_other && pw->pw_uid == 0) {
        rc = TR_ERROR(err, TR_E_DB_CLUSTER,
                      "pg_user \"%s\" is root; PostgreSQL refuses to run "
                      "as root", conf->pg_user);
        goto fail;
    }
    cl->uid = pw->pw_uid;
    cl->gid = pw->pw_gid;
    snprintf(cl->user, sizeof(cl->user), "%s", pw->pw_name);
    *out = cl;
    return TR_OK;

fail:
    free(cl);
    return rc;
}

void
tr_db_cluster_free(struct tr_db_cluster *cl)
{
    free(cl);
}

bool
tr_db_cluster_started_here(const struct tr_db_cluster *cl)
{
    return cl != NULL && cl->started_here;
}

const char *
tr_db_cluster_conninfo(const struct tr_db_cluster *cl, const char *dbname,
                       char *buf, size_t buf_len)
{
    snprintf(buf, buf_len, "host=");
    tr_db__conninfo_quote(buf, buf_len, cl->sock);
    snprintf(buf + strlen(buf), buf_len - strlen(buf),
             " port=" PG_PORT " user=" TR_DB_EMBEDDED_NAME
             " connect_timeout=10 dbname=");
    tr_db__conninfo_quote(buf, buf_len,
                          dbname != NULL ? dbname : TR_DB_EMBEDDED_NAME);
    return buf;
}

/*
 * Run `argv` (a PostgreSQL program) as the cluster's user, output
 * appended to `log_path`, and wait for it.  With argv NULL the child
 * only checks that it can enter and write the cluster's root directory.
 * Returns the exit status, or -1 when it could not be run.
 */
static int
run_as_owner(const struct tr_db_cluster *cl, char *const argv[],
             const char *log_path)
{
    pid_t pid;
    int status, fd;

    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (cl->as_other &&
            (setgid(cl->gid) != 0 || initgroups(cl->user, cl->gid) != 0 ||
             setuid(cl->uid) != 0))
            _exit(126);
        if (argv == NULL)
            _exit(access(cl->root, W_OK | X_OK) == 0 ? 0 : 1);
        if (chdir(cl->root) != 0)
            _exit(126);
        fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        fd = open("/dev/null", O_RDONLY);
        if (fd >= 0)
            dup2(fd, STDIN_FILENO);

        /*
         * The postmaster outlives us: it must not keep our other files
         * open, or a caller reading our output through a pipe would
         * never see its end.
         */
        closefrom(3);
        execv(argv[0], argv);
        _exit(127);
    }

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Create `path` (mode 0700) owned by the cluster's user, or check that an
 * existing one is owned by it.
 */
static enum tr_err
own_dir(const struct tr_db_cluster *cl, const char *path,
        struct tr_error *err)
{
    struct stat st;

    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return TR_ERROR(err, TR_E_DB_CLUSTER,
                        "could not create directory \"%s\": %s", path,
                        strerror(errno));
    if (stat(path, &st) != 0)
        return TR_ERROR(err, TR_E_DB_CLUSTER, "could not stat \"%s\": %s",
                        path, strerror(errno));

    /* A directory we made just now as root is handed over. */
    if (st.st_uid != cl->uid && cl->as_other && st.st_uid == 0 &&
        chown(path, cl->uid, cl->gid) == 0)
        st.st_uid = cl->uid;
    if (st.st_uid != cl->uid) {
        struct passwd *pw = getpwuid(st.st_uid);

        return TR_ERROR(err, TR_E_DB_CLUSTER,
                        "directory \"%s\" is owned by user \"%s\", not by "
                        "\"%s\" who runs the embedded PostgreSQL; fix its "
                        "owner or use another data_dir", path,
                        pw != NULL ? pw->pw_name : "?", cl->user);
    }
    return TR_OK;
}

/* mkdir -p for the parents of the cluster root, owned by the caller. */
static enum tr_err
make_parents(const char *root, struct tr_error *err)
{
    char path[PATH_LEN];

    snprintf(path, sizeof(path), "%s", root);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return TR_ERROR(err, TR_E_DB_CLUSTER,
                            "could not create directory \"%s\": %s", path,
                            strerror(errno));
        *p = '/';
    }
    return TR_OK;
}

static enum tr_err
prepare_dirs(struct tr_db_cluster *cl, struct tr_error *err)
{
    enum tr_err rc;

    rc = make_parents(cl->root, err);
    if (rc == TR_OK)
        rc = own_dir(cl, cl->root, err);
    if (rc == TR_OK)
        rc = own_dir(cl, cl->sock, err);
    if (rc != TR_OK)
        return rc;

    if (run_as_owner(cl, NULL, NULL) != 0)
        return TR_ERROR(err, TR_E_DB_CLUSTER,
                        "user \"%s\" cannot reach directory \"%s\"; make "
                        "its parent directories searchable (chmod o+x) or "
                        "use another data_dir", cl->user, cl->root);
    return TR_OK;
}

/* The postmaster's pid from postmaster.pid when it is alive, else 0. */
static long
running_pid(const struct tr_db_cluster *cl)
{
    char path[PATH_LEN + 64];
    long pid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/postmaster.pid", cl->data);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);

    if (pid > 0 && (kill((pid_t) pid, 0) == 0 || errno == EPERM))
        return pid;
    return 0;
}

void
tr_db_cluster_status(const struct tr_db_cluster *cl,
                     struct tr_db_cluster_info *info)
{
    char path[PATH_LEN + 64];

    memset(info, 0, sizeof(*info));
    snprintf(path, sizeof(path), "%s/PG_VERSION", cl->data);
    info->initialised = access(path, F_OK) == 0;
    info->pid = running_pid(cl);
    info->running = info->pid != 0;
    snprintf(info->data_dir, sizeof(info->data_dir), "%s", cl->data);
    snprintf(info->sock_dir, sizeof(info->sock_dir), "%s", cl->sock);
    info->sock_in_tmp = cl->sock_in_tmp;
}

/* The last non-empty line of the server log, for error messages. */
static void
log_tail(const char *path, char *buf, size_t buf_len)
{
    char line[256];
    FILE *f;

    buf[0] = '\0';
    f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '\0')
            snprintf(buf, buf_len, "%s", line);
    }
    fclose(f);
}

static enum tr_err
run_initdb(struct tr_db_cluster *cl, struct tr_error *err)
{
    char initdb[PATH_LEN + 16], ilog[PATH_LEN + 16], tail[256];
    char *argv[] = {initdb, "-D", cl->data, "-U", TR_DB_EMBEDDED_NAME,
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                    NULL, NULL};

    snprintf(initdb, sizeof(initdb), "%s/initdb", cl->bin);
    snprintf(ilog, sizeof(ilog), "%s/initdb.log", cl->root);
    if (cl->flags & TR_DB_CLUSTER_NO_FSYNC)
        argv[9] = "--no-sync";

    TR_LOG_INFO("db", "cluster_init",
                TR_KVS(TR_KV_STR("data_dir", cl->data)),
                "creating the embedded PostgreSQL cluster");
    if (run_as_owner(cl, argv, ilog) != 0) {
        log_tail(ilog, tail, sizeof(tail));
        return TR_ERROR(err, TR_E_DB_CLUSTER,
                        "initdb failed for \"%s\": %s (see \"%s\")",
                        cl->data, tail, ilog);
    }
    return TR_OK;
}

static enum tr_err
run_pg_ctl_start(struct tr_db_cluster *cl, struct tr_error *err)
{
    char pg_ctl[PATH_LEN + 16], opts[PATH_LEN + 320], clog[PATH_LEN + 16];
    char tail[256];
    const char *sync = (cl->flags & TR_DB_CLUSTER_NO_FSYNC) ? "off" : "on";
    char *argv[] = {pg_ctl, "-D", cl->data, "-l", cl->log, "-w", "-t", "60",
                    "-s", "-o", opts, "start", NULL};

    snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", cl->bin);
    snprintf(clog, sizeof(clog), "%s/pg_ctl.log", cl->root);

    /* pg_ctl hands -o to a shell, hence the quotes (paths were checked
     * for quotes in make_paths). */
    snprintf(opts, sizeof(opts),
             "-c listen_addresses='' -k '%s' -p " PG_PORT
             " -c unix_socket_permissions=0700 -c fsync=%s"
             " -c synchronous_commit=%s", cl->sock, sync, sync);

    if (run_as_owner(cl, argv, clog) != 0) {
        log_tail(cl->log, tail, sizeof(tail));
        return TR_ERROR(err, TR_E_DB_CLUSTER,
                        "could not start PostgreSQL: %s (see \"%s\")",
                        tail, cl->log);
    }
    cl->started_here = true;
    TR_LOG_INFO("db", "cluster_start",
                TR_KVS(TR_KV_STR("data_dir", cl->data),
                       TR_KV_STR("socket_dir", cl->sock)),
                "started the embedded PostgreSQL");
    return TR_OK;
}

/*
 * Connect to the maintenance database, waiting up to 30 s for a server
 * that is still starting, and create the database "triage" if needed.
 */
static enum tr_err
ensure_database(struct tr_db_cluster *cl, struct tr_error *err)
{
    char conninfo[PATH_LEN * 2];
    const char *params[1] = {TR_DB_EMBEDDED_NAME};
    PGconn *pg = NULL;
    PGresult *res;
    enum tr_err rc = TR_OK;

    tr_db_cluster_conninfo(cl, "postgres", conninfo, sizeof(conninfo));
    for (int i = 0; i < 300; i++) {
        pg = tr_db__connect(conninfo, err);
        if (pg != NULL)
            break;
        sleep_ms(100);
    }
    if (pg == NULL)
        return err != NULL ? err->code : TR_E_DB_CONNECT;

    res = PQexecParams(pg, "SELECT 1 FROM pg_database WHERE datname = $1",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = tr_db__fail(NULL, pg, res, "could not list databases", err);
    else if (PQntuples(res) == 0)
        rc = tr_db__simple(pg, "CREATE DATABASE " TR_DB_EMBEDDED_NAME, err);
    PQclear(res);
    PQfinish(pg);
    return rc;
}

enum tr_err
tr_db_cluster_start(struct tr_db_cluster *cl, struct tr_error *err)
{
    char lock_path[PATH_LEN + 16], path[PATH_LEN + 64];
    enum tr_err rc;
    int fd;

    rc = prepare_dirs(cl, err);
    if (rc != TR_OK)
        return rc;

    /* One starter at a time; the others then find it running. */
    snprintf(lock_path, sizeof(lock_path), "%s/start.lock", cl->root);
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return TR_ERROR(err, TR_E_DB_CLUSTER, "could not open \"%s\": %s",
                        lock_path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
        ;

    snprintf(path, sizeof(path), "%s/PG_VERSION", cl->data);
    if (access(path, F_OK) != 0) {
        rc = run_initdb(cl, err);
        if (rc != TR_OK)
            goto out;
    }
    if (running_pid(cl) == 0) {
        rc = run_pg_ctl_start(cl, err);
        if (rc != TR_OK)
            goto out;
    }
    rc = ensure_database(cl, err);

out:
    close(fd);
    return rc;
}

enum tr_err
tr_db_cluster_stop(struct tr_db_cluster *cl, struct tr_error *err)
{
    long pid = running_pid(cl);

    if (pid == 0)
        return TR_OK;

    /* SIGINT is PostgreSQL's fast shutdown: abort sessions, checkpoint. */
    if (kill((pid_t) pid, SIGINT) != 0 && errno != ESRCH)
        return TR_ERROR(err, TR_E_DB_CLUSTER,
                        "could not signal PostgreSQL (pid %ld): %s", pid,
                        strerror(errno));
    for (int i = 0; i < 1200; i++) {
        if (kill((pid_t) pid, 0) != 0 && errno == ESRCH) {
            cl->started_here = false;
            TR_LOG_INFO("db", "cluster_stop", TR_KVS(TR_KV_INT("pid", pid)),
                        "stopped the embedded PostgreSQL");
            return TR_OK;
        }
        sleep_ms(50);
    }
    return TR_ERROR(err, TR_E_TIMEOUT,
                    "PostgreSQL (pid %ld) did not stop within 60 s", pid);
}
