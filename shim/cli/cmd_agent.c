/* shim/cli/cmd_agent.c: `hastls agent`, the user's resolver process, and
 * `hastls agent status | stop`.
 *
 * One agent serves the processes of one user in one network namespace with
 * one resolver configuration (shim/core/rundir.h names it).  It listens on
 * RUNDIR/NAME.sock (mode 0600, in a 0700 directory), and only while it holds
 * an flock() on RUNDIR/NAME.lock: of two agents started at once, the second
 * exits at once with status 0 and says nothing.  Every accepted connection
 * must come from the agent's own user (SO_PEERCRED); others are closed and
 * the first is logged.  Requests are frames of policy/agentwire.h:
 *   LOOKUP  resolved with hastls_resolver_lookup(), bounded by timeout_ms;
 *           the answers go back with their DNSSEC status, reason and packet
 *   STATUS  "key: value" lines (pid, uptime, connections, lookups, the
 *           resolver's counters)
 *   STOP    acknowledged, then the agent exits
 * The main thread accepts and reads (poll); lookups run on a small pool of
 * worker threads, so a slow name never holds up another, and several
 * requests of one connection may be under way at once (answers carry the
 * request's id).  A connection with too many requests under way is not read
 * until some are answered.
 *
 * Socket activation (systemd's protocol, read by hand): when LISTEN_PID is
 * this process and LISTEN_FDS is 1, descriptor 3 must be a listening
 * AF_UNIX stream socket bound to a path; the agent serves it instead of
 * making its own (and takes no lock: the service manager runs one
 * instance), and STATUS says "activated: yes".  Anything else it was given
 * (several sockets, a socket of another kind) is an error.  The variables
 * are removed from the environment either way.  STATUS's "key:" line is the
 * agent's name (shim/core/rundir.h): how a process knows that an agent on
 * the fixed activated socket is one it may use.
 *
 * It also writes the address memory its user's processes share
 * (shim/core/sharedtab.h): RUNDIR/NAME.tab, made before the socket listens.
 * Every address answer it gives is recorded there with the name asked and
 * the HASTLS record that governs the addresses (shim/core/owner.h: the
 * owning name's own record, which it asks for itself when the request did
 * not), before the answer is sent; connect() in any of the user's processes
 * finds it there.  Without the table (it could not be made) the agent serves
 * as before and each process governs only what it resolved.
 *
 * It exits agent_idle seconds (--idle) after its last connection closed,
 * on SIGTERM, SIGINT or SIGHUP, and on STOP; it removes its socket first,
 * but only a socket it made itself and only while that file is still the
 * one it bound (never an activated socket: that one belongs to the service
 * manager, which starts the agent again on the next connection).
 * Unless --foreground, it detaches (a new session, descriptors 0-2 on
 * /dev/null, working directory /) once its socket listens, and the command
 * returns: 0 when an agent serves (this one or one already running), 1 with
 * the reason on standard error when it could not start.  It logs to
 * RUNDIR/NAME.log at the configuration's log level (to standard error with
 * --foreground), and prints nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "policy/agentwire.h"
#include "policy/config.h"
#include "policy/verdict.h"
#include "shim/cli/cli.h"
#include "shim/cli/format.h"
#include "shim/core/agent.h"
#include "shim/core/cache.h"
#include "shim/core/hostpins.h"
#include "shim/core/ip.h"
#include "shim/core/owner.h"
#include "shim/core/rundir.h"
#include "shim/core/sharedtab.h"
#include "shim/resolver/resolver.h"

#define AGENT_WORKERS 32
#define AGENT_MAX_CONNS 1000
#define AGENT_CONN_PENDING 32 /* requests under way per connection */
#define AGENT_LOG_MAX (1024 * 1024)
#define AGENT_CLI_WAIT_MS 3000 /* status and stop */
#define AGENT_STOP_WAIT_MS 5000

/* ---- what the verbs share ------------------------------------------------ */

struct agent_opts {
    const char *config, *app, *privacy;
    long idle; /* -1: from the configuration */
    int foreground;
};

static void agent_usage(FILE *out)
{
    fprintf(out,
            "usage: hastls agent [--foreground] [--idle SECONDS] [OPTIONS]\n"
            "       hastls agent status [OPTIONS]\n"
            "       hastls agent stop [OPTIONS]\n"
            "\n"
            "Starts the resolver agent of this user, network namespace and resolver\n"
            "configuration, which shimmed processes ask instead of resolving\n"
            "themselves (they start it when needed); shows its state; stops it.\n"
            "\n"
            "  --foreground       stay attached and log to standard error\n"
            "  --idle SECONDS     exit this long after the last client left\n"
            "                     (default: agent_idle, 600)\n"
            "  --config FILE      configuration file (default: $HASTLS_CONF, then %s)\n"
            "  --app NAME         apply the [app:NAME] section, as for program NAME\n"
            "  --privacy P        override: strict, encrypted, opportunistic or off\n"
            "\n"
            "status exits 0 and prints the agent's state when one runs, 3 when none\n"
            "does; stop exits 0 once no agent runs.  See hastls(1).\n",
            HASTLS_DEFAULT_CONF);
}

/* Loads the configuration as the shim of a program NAME would see it. */
static int load_config(const struct agent_opts *o, struct hastls_config *cfg)
{
    char err[4096];
    int rc = o->config ? hastls_config_load(o->config, o->app, cfg, err, sizeof err)
                       : hastls_config_load_default(o->app, cfg, err, sizeof err);
    if (rc < 0) {
        hastls_cli_print_errors(err);
        return -1;
    }
    if (o->privacy) {
        int p = hastls_privacy_from_name(o->privacy);
        if (p < 0) {
            fprintf(stderr,
                    "hastls agent: bad value '%s' for --privacy (expected strict, "
                    "encrypted, opportunistic or off)\n",
                    o->privacy);
            return -2;
        }
        cfg->privacy = (enum hastls_privacy)p;
    }
    return 0;
}

/* The runtime directory (open, in *DFD) and the agent's name. */
static int locate(const struct hastls_config *cfg, int *dfd, char *dir, size_t dirlen,
                  char *name, size_t namelen)
{
    char err[512];
    *dfd = hastls_rundir_open(dir, dirlen, err, sizeof err);
    if (*dfd < 0) {
        fprintf(stderr, "hastls agent: runtime directory: %s\n", err);
        return -1;
    }
    if (hastls_agent_name(cfg, name, namelen) < 0) {
        fprintf(stderr, "hastls agent: cannot identify the network namespace "
                        "(/proc/self/ns/net)\n");
        close(*dfd);
        return -1;
    }
    return 0;
}

static const char *config_label(const struct hastls_config *cfg)
{
    return cfg->source[0] ? cfg->source : "the built-in defaults";
}

/* ---- status and stop ----------------------------------------------------- */

/* The client of the agent serving NAME: the one on its own socket, else an
 * activated one on the fixed socket whose key is NAME (rundir.h).  TEXT
 * gets its STATUS.  NULL with *R saying why none answered. */
static struct hastls_agent_client *find_agent(const char *dir, const char *name,
                                              char *path, size_t pathlen, char *text,
                                              size_t textlen, enum hastls_agent_result *r)
{
    snprintf(path, pathlen, "%s/%s.sock", dir, name);
    struct hastls_agent_client *c = hastls_agent_client_new(path, AGENT_CLI_WAIT_MS);
    if (!c) {
        *r = HASTLS_AGENT_UNSUITED;
        return NULL;
    }
    *r = hastls_agent_client_status(c, text, textlen);
    if (*r == HASTLS_AGENT_ANSWERED)
        return c;
    hastls_agent_client_free(c);
    if (*r != HASTLS_AGENT_ABSENT)
        return NULL;
    char fixed[HASTLS_PATH_MAX + 80], key[64];
    snprintf(fixed, sizeof fixed, "%s/%s", dir, HASTLS_AGENT_ACTIVATED_SOCKET);
    if (!(c = hastls_agent_client_new(fixed, AGENT_CLI_WAIT_MS)))
        return NULL;
    if (hastls_agent_client_status(c, text, textlen) == HASTLS_AGENT_ANSWERED &&
        hastls_agent_status_field(text, strlen(text), "key", key, sizeof key) == 1 &&
        !strcmp(key, name)) {
        snprintf(path, pathlen, "%s", fixed);
        return c;
    }
    hastls_agent_client_free(c);
    return NULL; /* *r stays ABSENT: none of ours */
}

static int client_verb(const char *verb, const struct agent_opts *o)
{
    static struct hastls_config cfg; /* large: off the stack */
    char dir[HASTLS_PATH_MAX], name[64], path[HASTLS_PATH_MAX + 80];
    int dfd;
    int rc = load_config(o, &cfg);
    if (rc < 0)
        return rc == -2 ? 2 : 1;
    if (locate(&cfg, &dfd, dir, sizeof dir, name, sizeof name) < 0)
        return 1;
    static char text[65536];
    enum hastls_agent_result r;
    struct hastls_agent_client *c =
        find_agent(dir, name, path, sizeof path, text, sizeof text, &r);
    if (!c && r == HASTLS_AGENT_UNSUITED) {
        fprintf(stderr, "hastls agent: %s: path too long for a socket\n", path);
        close(dfd);
        return 1;
    }
    if (!strcmp(verb, "status")) {
        hastls_agent_client_free(c);
        close(dfd);
        if (r == HASTLS_AGENT_BUSY || r == HASTLS_AGENT_BROKEN) {
            fprintf(stderr, "hastls agent: the agent at %s did not answer (%s)\n", path,
                    r == HASTLS_AGENT_BUSY ? "too many connections waiting"
                                           : "it failed or is not this user's");
            return 1;
        }
        if (!c) {
            fprintf(stderr,
                    "hastls agent: no agent runs for %s in this network namespace (%s)\n",
                    config_label(&cfg), path);
            return 3;
        }
        fputs(text, stdout);
        return 0;
    }
    /* Watched from before the stop: the agent's own exit, not its lock,
     * which a new agent may take at once when programs are running. */
    pid_t peer = c ? hastls_agent_client_peer(c) : 0;
    int pfd = peer > 0 ? (int)syscall(SYS_pidfd_open, peer, 0) : -1;
    if (c)
        r = hastls_agent_client_stop(c);
    hastls_agent_client_free(c);
    close(dfd);
    if (!c || r != HASTLS_AGENT_ANSWERED) {
        if (pfd >= 0)
            close(pfd);
        fprintf(stderr, "hastls agent: no agent runs for %s in this network namespace\n",
                config_label(&cfg));
        return 0;
    }
    char activated[8];
    int socket_activated = hastls_agent_status_field(text, strlen(text), "activated",
                                                     activated, sizeof activated) == 1 &&
                           !strcmp(activated, "yes");
    int gone = 0;
    if (pfd >= 0) {
        struct pollfd p = {pfd, POLLIN, 0};
        gone = poll(&p, 1, AGENT_STOP_WAIT_MS) == 1;
        close(pfd);
    } else {
        /* Without pidfds: until the pid is gone (an exited agent's parent is
         * its reaper, not us). */
        for (int waited = 0; !gone && peer > 0 && waited < AGENT_STOP_WAIT_MS;
             waited += 10) {
            gone = kill(peer, 0) < 0 && errno == ESRCH;
            struct timespec ts = {0, 10 * 1000 * 1000};
            if (!gone)
                nanosleep(&ts, NULL);
        }
    }
    if (!gone) {
        fprintf(stderr, "hastls agent: the agent acknowledged but has not exited yet\n");
        return 1;
    }
    if (socket_activated)
        printf("stopped (socket-activated: it starts again on the next lookup; "
               "systemctl --user stop hastls-agent.socket ends that)\n");
    else
        printf("stopped\n");
    return 0;
}

/* ---- the server: logging ------------------------------------------------- */

static int log_fd = 2;
static enum hastls_log_level log_level = HASTLS_LOG_WARN;
static int log_stamped; /* a file: with time and pid */

static void agent_log(enum hastls_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void agent_log(enum hastls_log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    char line[1024];
    size_t n = 0;
    if (log_stamped) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
        n += (size_t)snprintf(line + n, sizeof line - n,
                              "hastls agent[%d]: ", (int)getpid());
    } else {
        n = (size_t)snprintf(line, sizeof line, "hastls agent: ");
    }
    if (level == HASTLS_LOG_ERROR && n < sizeof line)
        n += (size_t)snprintf(line + n, sizeof line - n, "error: ");
    va_list ap;
    va_start(ap, fmt);
    if (n < sizeof line)
        vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (n == sizeof line - 1)
        memcpy(line + n - 3, "...", 3);
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, n); /* one write: lines never interleave */
    (void)w;
}

static void resolver_log(enum hastls_log_level level, const char *msg)
{
    agent_log(level, "%s", msg);
}

/* ---- the server: connections and jobs ------------------------------------ */

struct conn {
    int fd;
    pid_t peer;
    /* The frame being read (main thread only). */
    uint8_t prefix[HASTLS_AGENT_FRAME_PREFIX];
    size_t have;
    uint8_t *body;
    size_t body_len;
    /* Under srv.mu. */
    unsigned refs;    /* the main thread's, and one per job */
    unsigned pending; /* jobs not yet answered */
    /* Under wlock: answers are written whole, one at a time. */
    pthread_mutex_t wlock;
    int broken;
};

struct job {
    struct conn *c;
    struct hastls_agent_request req;
    struct job *next;
};

static struct {
    struct hastls_config cfg;
    struct hastls_resolver *res;
    char sock_path[HASTLS_PATH_MAX + 80];
    char sock_name[80];
    char key[64];   /* the agent's name: STATUS's "key" */
    int activated;  /* serving a socket the service manager made */
    dev_t sock_dev; /* the socket file it bound, when not activated: */
    ino_t sock_ino; /* removed at exit only while it is still that file */
    int dirfd;
    time_t started;
    int evfd; /* workers -> main: a connection may be read again, or stop */

    pthread_mutex_t mu; /* the queue, the refs and the counters */
    pthread_cond_t cv;
    struct job *head, *tail;
    int stop; /* STOP was answered */
    unsigned long lookups, queries, lookups_failed, conns_total, conns_refused,
        bad_requests;
    unsigned conns_open;
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void poke_main(void)
{
    uint64_t one = 1;
    ssize_t w = write(srv.evfd, &one, sizeof one);
    (void)w;
}

/* Drops a reference (under srv.mu); the last one closes and frees. */
static void conn_unref_locked(struct conn *c)
{
    if (--c->refs)
        return;
    close(c->fd);
    free(c->body);
    pthread_mutex_destroy(&c->wlock);
    free(c);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes one whole answer; a client that does not read within timeout_ms
 * loses its connection. */
static void conn_send(struct conn *c, const uint8_t *buf, size_t len)
{
    uint64_t deadline = mono_ms() + srv.cfg.timeout_ms;
    pthread_mutex_lock(&c->wlock);
    while (!c->broken && len) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        uint64_t now = mono_ms();
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && now < deadline) {
            struct pollfd p = {c->fd, POLLOUT, 0};
            if (poll(&p, 1, (int)(deadline - now)) >= 0)
                continue;
        }
        c->broken = 1;
        shutdown(c->fd, SHUT_RDWR); /* the main thread sees it end */
    }
    pthread_mutex_unlock(&c->wlock);
}

static void conn_fail(struct conn *c)
{
    pthread_mutex_lock(&c->wlock);
    c->broken = 1;
    shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&c->wlock);
}

/* ---- the server: the shared address table -------------------------------- */

static struct {
    pthread_mutex_t mu; /* the one writer of the table at a time */
    struct hastls_sharedtab *tab;
    char name[96];
} shared = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Makes RUNDIR/NAME.tab; without it the agent still serves lookups. */
static void shared_open(void)
{
    char err[512];
    snprintf(shared.name, sizeof shared.name, "%.*s%s", (int)(strlen(srv.sock_name) - 5),
             srv.sock_name, HASTLS_SHAREDTAB_SUFFIX);
    shared.tab = hastls_sharedtab_create(srv.dirfd, shared.name,
                                         HASTLS_SHAREDTAB_AGENT_SLOTS, err, sizeof err);
    if (!shared.tab)
        agent_log(HASTLS_LOG_WARN,
                  "no shared address table (%s): processes govern only the addresses "
                  "they resolved themselves",
                  err);
}

/* Retires and removes the table (the agent is leaving). */
static void shared_close(void)
{
    pthread_mutex_lock(&shared.mu);
    hastls_sharedtab_destroy(shared.tab, srv.dirfd, shared.name);
    shared.tab = NULL;
    pthread_mutex_unlock(&shared.mu);
}

static int shared_ask(void *ctx, const struct hastls_query *q, size_t nq,
                      struct hastls_answer **ans)
{
    (void)ctx;
    return hastls_resolver_lookup(srv.res, q, nq, ans);
}

static void shared_free(void *ctx, struct hastls_answer *a)
{
    (void)ctx;
    hastls_answer_free(a);
}

/* The addresses an answer hands out: those of a secure or insecure answer
 * (a bogus one's are never handed out; a failed one has none). */
static size_t handed_out(const struct hastls_answer *a)
{
    if (a->status != HASTLS_SEC_SECURE && a->status != HASTLS_SEC_INSECURE)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < a->n_rr; i++)
        n += hastls_rr_address_family(&a->rr[i]) != 0;
    return n;
}

static void strip_dot(char *s)
{
    size_t len = strlen(s);
    if (len > 1 && s[len - 1] == '.')
        s[len - 1] = '\0';
}

/* Records the addresses of the answers ADDR[HASTLS_ANS_A], ADDR[HASTLS_ANS_AAAA]
 * (either NULL when not asked) of the name KEY (normalized) with the record
 * that governs them; REC_ANS is KEY's HASTLS answer of the same request, or
 * NULL.  PAIRS has room for HASTLS_REC_MAX_PAIRS. */
static void shared_record_name(const char *key, struct hastls_answer *const addr[2],
                               const struct hastls_answer *rec_ans,
                               struct hastls_pair *pairs)
{
    /* A family not asked shows nothing (as for a res_query() answer). */
    struct hastls_addr_answer got[2] = {{HASTLS_SEC_FAILED, -1, 0},
                                        {HASTLS_SEC_FAILED, -1, 0}};
    uint32_t addr_ttl = UINT32_MAX;
    for (int i = 0; i < 2; i++)
        if (addr[i]) {
            got[i].status = addr[i]->status;
            got[i].rcode = addr[i]->rcode;
            got[i].n = handed_out(addr[i]);
            addr_ttl = addr[i]->ttl < addr_ttl ? addr[i]->ttl : addr_ttl;
        }
    if (got[0].n + got[1].n == 0)
        return;
    int o = hastls_owner_answer(got);
    const struct hastls_answer *named = addr[o] ? addr[o] : addr[!o];
    char canon[HASTLS_NAME_MAX];
    snprintf(canon, sizeof canon, "%s", named->canonname[0] ? named->canonname : key);
    strip_dot(canon);
    size_t np = 0;
    enum hastls_rec rec = HASTLS_REC_FAILED;
    char why[600];
    uint32_t rec_ttl = 0;
    const struct hastls_owner_asker ask = {shared_ask, shared_free, NULL};
    enum hastls_rec raw;
    if (hastls_owner_record(&ask, key, canon, srv.cfg.record_type, rec_ans, got, pairs,
                            &np, &rec, &raw, why, sizeof why, &rec_ttl) < 0) {
        agent_log(HASTLS_LOG_WARN, "out of memory asking the record of %s: %s not shared",
                  canon, key);
        return;
    }
    /* The user's pins (shim/core/hostpins.h): a pin governs the shared entry
     * of a name whose lookup fails, as it does in the process. */
    if (hastls_hostpins_apply_cfg(&srv.cfg, 0, canon, raw, &rec, pairs,
                                  HASTLS_REC_MAX_PAIRS, &np, rec_ttl, why))
        rec_ttl = 30;
    if (!hastls_rec_enforced(rec))
        np = 0;
    uint64_t now = hastls_now();
    uint64_t expires = hastls_owner_expires(now, addr_ttl, rec, rec_ttl);
    pthread_mutex_lock(&shared.mu);
    for (int i = 0; i < 2 && shared.tab; i++) {
        if (!addr[i] || !got[i].n)
            continue;
        for (size_t k = 0; k < addr[i]->n_rr; k++) {
            int family = hastls_rr_address_family(&addr[i]->rr[k]);
            if (!family)
                continue;
            uint8_t ip[16];
            hastls_ip_key(family, addr[i]->rr[k].rdata, ip);
            if (hastls_sharedtab_put(shared.tab, ip, key, rec, pairs, np, expires, now) <
                0)
                agent_log(HASTLS_LOG_DEBUG, "%s: not shared (name too long)", key);
        }
    }
    pthread_mutex_unlock(&shared.mu);
    agent_log(HASTLS_LOG_DEBUG, "shared %s (%zu A, %zu AAAA): record of %s %s", key,
              got[0].n, got[1].n, canon, hastls_rec_name(rec));
}

/* Records in the table every address answer among ANS[0..NQ), each name's
 * addresses with the record that governs them (shim/core/owner.h). */
static void shared_record(struct hastls_answer *const *ans, size_t nq)
{
    if (!__atomic_load_n(&shared.tab, __ATOMIC_RELAXED))
        return;
    struct hastls_pair *pairs = NULL;
    for (size_t i = 0; i < nq; i++) {
        if (ans[i]->qtype != 1 && ans[i]->qtype != 28)
            continue;
        /* The first address answer of each name gathers that name's. */
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = (ans[j]->qtype == 1 || ans[j]->qtype == 28) &&
                   !strcasecmp(ans[j]->qname, ans[i]->qname);
        char key[HASTLS_NAME_MAX];
        if (seen || hastls_name_normalize(ans[i]->qname, key) < 0)
            continue;
        struct hastls_answer *addr[2] = {NULL, NULL};
        const struct hastls_answer *rec_ans = NULL;
        for (size_t j = i; j < nq; j++) {
            if (strcasecmp(ans[j]->qname, ans[i]->qname))
                continue;
            if (ans[j]->qtype == 1 && !addr[HASTLS_ANS_A])
                addr[HASTLS_ANS_A] = ans[j];
            else if (ans[j]->qtype == 28 && !addr[HASTLS_ANS_AAAA])
                addr[HASTLS_ANS_AAAA] = ans[j];
            else if (ans[j]->qtype == srv.cfg.record_type && !rec_ans)
                rec_ans = ans[j];
        }
        if (!pairs && !(pairs = malloc(HASTLS_REC_MAX_PAIRS * sizeof *pairs))) {
            agent_log(HASTLS_LOG_WARN, "out of memory: %s not shared", key);
            return;
        }
        shared_record_name(key, addr, rec_ans, pairs);
    }
    free(pairs);
}

static void answer_lookup(struct conn *c, const struct hastls_agent_request *req)
{
    struct hastls_query q[HASTLS_AGENT_MAX_QUERIES];
    struct hastls_answer *ans[HASTLS_AGENT_MAX_QUERIES];
    for (size_t i = 0; i < req->nq; i++)
        q[i] = (struct hastls_query){req->q[i].name, req->q[i].qtype};
    if (hastls_resolver_lookup(srv.res, q, req->nq, ans) < 0) {
        agent_log(HASTLS_LOG_ERROR, "out of memory looking up %s", q[0].name);
        conn_fail(c); /* the client resolves by itself */
        pthread_mutex_lock(&srv.mu);
        srv.lookups_failed++;
        pthread_mutex_unlock(&srv.mu);
        return;
    }
    shared_record(ans, req->nq);
    /* The frame's header, then per answer: qtype 2, status 1, rcode 2, ttl 4,
     * three length-prefixed strings (1, 1, 2) and the packet (4). */
    size_t size = HASTLS_AGENT_FRAME_PREFIX + 9;
    for (size_t i = 0; i < req->nq; i++)
        size += 17 + strlen(ans[i]->qname) + strlen(ans[i]->canonname) +
                strlen(ans[i]->reason) + (ans[i]->packet ? ans[i]->packet_len : 0);
    uint8_t *buf = malloc(size);
    size_t len = 0;
    if (buf) {
        struct hastls_agent_writer w;
        hastls_agent_response_begin(&w, buf, size, HASTLS_AGENT_OP_LOOKUP, req->id);
        for (size_t i = 0; i < req->nq; i++) {
            struct hastls_agent_answer a = {
                .qtype = ans[i]->qtype,
                .status = ans[i]->status,
                .rcode = ans[i]->rcode,
                .ttl = ans[i]->ttl,
                .packet = ans[i]->packet,
                .packet_len = ans[i]->packet ? ans[i]->packet_len : 0,
            };
            snprintf(a.qname, sizeof a.qname, "%s", ans[i]->qname);
            snprintf(a.canonname, sizeof a.canonname, "%s", ans[i]->canonname);
            snprintf(a.reason, sizeof a.reason, "%s", ans[i]->reason);
            hastls_agent_response_answer(&w, &a);
        }
        len = hastls_agent_response_end(&w);
    }
    for (size_t i = 0; i < req->nq; i++)
        hastls_answer_free(ans[i]);
    if (len)
        conn_send(c, buf, len);
    else
        conn_fail(c);
    free(buf);
    pthread_mutex_lock(&srv.mu);
    if (len) {
        srv.lookups++;
        srv.queries += req->nq;
    } else {
        srv.lookups_failed++;
    }
    pthread_mutex_unlock(&srv.mu);
}

static void answer_status(struct conn *c, uint32_t id)
{
    struct hastls_resolver_stats st;
    hastls_resolver_get_stats(srv.res, &st);
    char text[4096];
    pthread_mutex_lock(&srv.mu);
    int n =
        snprintf(text, sizeof text,
                 "pid: %d\n"
                 "key: %s\n"
                 "activated: %s\n"
                 "version: %s\n"
                 "uptime_s: %ld\n"
                 "socket: %s\n"
                 "config: %s\n"
                 "privacy: %s\n"
                 "idle_exit_s: %u\n"
                 "connections_open: %u\n"
                 "connections_total: %lu\n"
                 "connections_refused: %lu\n"
                 "lookups: %lu\n"
                 "queries: %lu\n"
                 "lookups_failed: %lu\n"
                 "bad_requests: %lu\n"
                 "tls_handshakes: %lu\n"
                 "tls_resumptions: %lu\n"
                 "queries_tls: %lu\n"
                 "queries_cleartext: %lu\n",
                 (int)getpid(), srv.key, srv.activated ? "yes" : "no", HASTLS_VERSION,
                 (long)(time(NULL) - srv.started), srv.sock_path, config_label(&srv.cfg),
                 hastls_privacy_name(srv.cfg.privacy), srv.cfg.agent_idle, srv.conns_open,
                 srv.conns_total, srv.conns_refused, srv.lookups, srv.queries,
                 srv.lookups_failed, srv.bad_requests, st.tls_handshakes,
                 st.tls_resumptions, st.queries_tls, st.queries_cleartext);
    pthread_mutex_unlock(&srv.mu);
    uint8_t buf[4200];
    struct hastls_agent_writer w;
    hastls_agent_response_begin(&w, buf, sizeof buf, HASTLS_AGENT_OP_STATUS, id);
    hastls_agent_response_text(&w, text,
                               n > 0 && (size_t)n < sizeof text ? (size_t)n : 0);
    size_t len = hastls_agent_response_end(&w);
    if (len)
        conn_send(c, buf, len);
}

static void answer_stop(struct conn *c, uint32_t id)
{
    uint8_t buf[32];
    struct hastls_agent_writer w;
    hastls_agent_response_begin(&w, buf, sizeof buf, HASTLS_AGENT_OP_STOP, id);
    size_t len = hastls_agent_response_end(&w);
    agent_log(HASTLS_LOG_INFO, "stopping: asked by pid %d", (int)c->peer);
    conn_send(c, buf, len);
    pthread_mutex_lock(&srv.mu);
    srv.stop = 1;
    pthread_mutex_unlock(&srv.mu);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&srv.mu);
        while (!srv.head)
            pthread_cond_wait(&srv.cv, &srv.mu);
        struct job *j = srv.head;
        srv.head = j->next;
        if (!srv.head)
            srv.tail = NULL;
        pthread_mutex_unlock(&srv.mu);

        switch (j->req.op) {
        case HASTLS_AGENT_OP_LOOKUP:
            answer_lookup(j->c, &j->req);
            break;
        case HASTLS_AGENT_OP_STATUS:
            answer_status(j->c, j->req.id);
            break;
        case HASTLS_AGENT_OP_STOP:
            answer_stop(j->c, j->req.id);
            break;
        }
        pthread_mutex_lock(&srv.mu);
        int wake = j->c->pending-- == AGENT_CONN_PENDING || srv.stop;
        conn_unref_locked(j->c);
        pthread_mutex_unlock(&srv.mu);
        free(j);
        if (wake)
            poke_main();
    }
    return NULL;
}

/* ---- the server: the main loop ------------------------------------------- */

static struct conn *conns[AGENT_MAX_CONNS];
static size_t nconns;

static void conn_close(size_t i)
{
    struct conn *c = conns[i];
    conns[i] = conns[--nconns];
    pthread_mutex_lock(&srv.mu);
    srv.conns_open--;
    conn_unref_locked(c);
    pthread_mutex_unlock(&srv.mu);
}

static void accept_all(int lfd)
{
    static int refused_logged, full_logged;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a transient error: poll tells us again */
        unsigned uid = (unsigned)-1;
        int peer = 0;
        if (!hastls_agent_peer_ok(fd, &uid, &peer)) {
            if (!refused_logged++)
                agent_log(HASTLS_LOG_WARN,
                          "refused a connection from uid %d (pid %d): this agent "
                          "serves uid %u only (further refusals are counted in status)",
                          (int)uid, peer, (unsigned)geteuid());
            pthread_mutex_lock(&srv.mu);
            srv.conns_refused++;
            pthread_mutex_unlock(&srv.mu);
            close(fd);
            continue;
        }
        struct conn *c = nconns < AGENT_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            if (!full_logged++)
                agent_log(HASTLS_LOG_WARN, "%zu connections: closing new ones", nconns);
            close(fd); /* the process resolves by itself */
            continue;
        }
        c->fd = fd;
        c->peer = peer;
        c->refs = 1;
        pthread_mutex_init(&c->wlock, NULL);
        conns[nconns++] = c;
        pthread_mutex_lock(&srv.mu);
        srv.conns_open++;
        srv.conns_total++;
        pthread_mutex_unlock(&srv.mu);
    }
}

/* A whole request from C: queued for a worker.  Returns -1 when the
 * connection must go. */
static int take_request(struct conn *c, const uint8_t *body, size_t len)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    if (hastls_agent_request_decode(body, len, &j->req) < 0) {
        free(j);
        pthread_mutex_lock(&srv.mu);
        unsigned long n = ++srv.bad_requests;
        pthread_mutex_unlock(&srv.mu);
        agent_log(n == 1 ? HASTLS_LOG_WARN : HASTLS_LOG_DEBUG,
                  "malformed request from pid %d: connection closed", (int)c->peer);
        return -1;
    }
    j->c = c;
    pthread_mutex_lock(&srv.mu);
    c->refs++;
    c->pending++;
    if (srv.tail)
        srv.tail->next = j;
    else
        srv.head = j;
    srv.tail = j;
    pthread_cond_signal(&srv.cv);
    pthread_mutex_unlock(&srv.mu);
    return 0;
}

static unsigned pending_of(struct conn *c)
{
    pthread_mutex_lock(&srv.mu);
    unsigned p = c->pending;
    pthread_mutex_unlock(&srv.mu);
    return p;
}

/* Reads what C sent, frame by frame.  Returns -1 when it ended. */
static int conn_read(struct conn *c)
{
    while (pending_of(c) < AGENT_CONN_PENDING) {
        uint8_t *to = c->body ? c->body + c->have : c->prefix + c->have;
        size_t want = c->body ? c->body_len - c->have : sizeof c->prefix - c->have;
        ssize_t n = recv(c->fd, to, want, MSG_DONTWAIT);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        c->have += (size_t)n;
        if (!c->body && c->have == sizeof c->prefix) {
            if (hastls_agent_frame_len(c->prefix, sizeof c->prefix, HASTLS_AGENT_MAX_BODY,
                                       &c->body_len) != 1 ||
                !(c->body = malloc(c->body_len)))
                return -1;
            c->have = 0;
        } else if (c->body && c->have == c->body_len) {
            int rc = take_request(c, c->body, c->body_len);
            free(c->body);
            c->body = NULL;
            c->have = 0;
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

static void quit(const char *why)
{
    struct stat st;
    if (!srv.activated && srv.sock_ino &&
        fstatat(srv.dirfd, srv.sock_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        st.st_dev == srv.sock_dev && st.st_ino == srv.sock_ino)
        unlinkat(srv.dirfd, srv.sock_name, 0);
    shared_close();
    agent_log(HASTLS_LOG_INFO, "exiting: %s", why);
    /* _exit: workers may be inside the resolver, whose libraries must not
     * run their exit handlers under them.  The lock goes with the process. */
    _exit(0);
}

static void serve(int lfd, int sigfd)
{
    static struct pollfd pfd[AGENT_MAX_CONNS + 3];
    static struct conn *polled[AGENT_MAX_CONNS];
    uint64_t idle_since = mono_ms(), idle_ms = (uint64_t)srv.cfg.agent_idle * 1000;
    for (;;) {
        size_t n = 0;
        pfd[n++] = (struct pollfd){sigfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){srv.evfd, POLLIN, 0};
        pfd[n++] = (struct pollfd){lfd, POLLIN, 0};
        size_t first = n;
        for (size_t i = 0; i < nconns; i++)
            if (pending_of(conns[i]) < AGENT_CONN_PENDING) {
                polled[n - first] = conns[i];
                pfd[n++] = (struct pollfd){conns[i]->fd, POLLIN, 0};
            }
        int timeout = -1;
        if (nconns == 0) {
            uint64_t now = mono_ms();
            if (now - idle_since >= idle_ms)
                quit("idle");
            timeout = (int)(idle_since + idle_ms - now);
        }
        int got = poll(pfd, n, timeout);
        if (got < 0 && errno != EINTR) {
            agent_log(HASTLS_LOG_ERROR, "poll: %s", strerror(errno));
            quit("poll failed");
        }
        if (got <= 0)
            continue;
        if (pfd[0].revents) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si)
                quit(strsignal((int)si.ssi_signo));
        }
        if (pfd[1].revents) {
            uint64_t v;
            ssize_t r = read(srv.evfd, &v, sizeof v);
            (void)r;
            pthread_mutex_lock(&srv.mu);
            int stop = srv.stop;
            pthread_mutex_unlock(&srv.mu);
            if (stop)
                quit("stopped");
        }
        /* Connections first: accepting may move entries of conns[]. */
        for (size_t k = first; k < n; k++) {
            if (!pfd[k].revents)
                continue;
            struct conn *c = polled[k - first];
            if (conn_read(c) < 0)
                for (size_t i = 0; i < nconns; i++)
                    if (conns[i] == c) {
                        conn_close(i);
                        break;
                    }
        }
        if (pfd[2].revents)
            accept_all(lfd);
        if (nconns == 0)
            idle_since = mono_ms();
    }
}

/* ---- the server: start-up ------------------------------------------------ */

/* The reason a start failed, for the command that is waiting (or stderr). */
static int report_fd = -1;

static void start_failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void start_failed(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_fd != 2)
        agent_log(HASTLS_LOG_ERROR, "%s", msg);
    if (report_fd >= 0) {
        ssize_t w = write(report_fd, msg, strlen(msg));
        (void)w;
    } else {
        fprintf(stderr, "hastls agent: %s\n", msg);
    }
    _exit(1);
}

/* Detaches: the parent waits until the child listens (or says why it
 * cannot) and returns that as its status. */
static void detach(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        fprintf(stderr, "hastls agent: pipe: %s\n", strerror(errno));
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "hastls agent: fork: %s\n", strerror(errno));
        exit(1);
    }
    if (pid > 0) {
        close(p[1]);
        char msg[1024];
        size_t len = 0;
        for (;;) {
            ssize_t n = read(p[0], msg + len, sizeof msg - 1 - len);
            if (n > 0 && (len += (size_t)n) < sizeof msg - 1)
                continue;
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        msg[len] = '\0';
        if (len) {
            fprintf(stderr, "hastls agent: %s\n", msg);
            _exit(1);
        }
        _exit(0);
    }
    close(p[0]);
    report_fd = p[1];
    setsid();
}

/* Takes the lock, or exits quietly: another agent serves. */
static void take_lock(void)
{
    char lock[80];
    snprintf(lock, sizeof lock, "%.*s.lock", (int)(strlen(srv.sock_name) - 5),
             srv.sock_name);
    int fd = openat(srv.dirfd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        start_failed("%s: %s", lock, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            _exit(0);
        start_failed("%s: lock: %s", lock, strerror(errno));
    }
    /* fd stays open (close-on-exec) for the agent's life: it is the lock. */
}

static void open_log(const char *name)
{
    char file[80];
    snprintf(file, sizeof file, "%.*s.log", (int)(strlen(name) - 5), name);
    int fd = openat(srv.dirfd, file,
                    O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        start_failed("%s: %s", file, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > AGENT_LOG_MAX && ftruncate(fd, 0) < 0)
        start_failed("%s: %s", file, strerror(errno));
    log_fd = fd;
    log_stamped = 1;
}

/* Binds NAME.new, then renames it over NAME.sock: a client sees either the
 * old socket or a listening new one, never a half-made one. */
static int listen_socket(const char *dir)
{
    char tmp[80], tmppath[HASTLS_PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%.*s.new", (int)(strlen(srv.sock_name) - 5),
             srv.sock_name);
    snprintf(tmppath, sizeof tmppath, "%s/%s", dir, tmp);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(tmppath);
    if (strlen(srv.sock_path) >= sizeof sa.sun_path || len >= sizeof sa.sun_path)
        start_failed("%s: path too long for a socket", srv.sock_path);
    memcpy(sa.sun_path, tmppath, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        start_failed("socket: %s", strerror(errno));
    unlinkat(srv.dirfd, tmp, 0);
    mode_t old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || fchmodat(srv.dirfd, tmp, 0600, 0) < 0 || listen(fd, SOMAXCONN) < 0 ||
        renameat(srv.dirfd, tmp, srv.dirfd, srv.sock_name) < 0)
        start_failed("%s: %s", srv.sock_path, strerror(errno));
    struct stat st;
    if (fstatat(srv.dirfd, srv.sock_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        srv.sock_dev = st.st_dev;
        srv.sock_ino = st.st_ino;
    }
    return fd;
}

/* The socket a service manager passed (systemd's sd_listen_fds protocol):
 * returns 3 when LISTEN_PID is this process and LISTEN_FDS is 1, -1 when the
 * variables are absent or meant for another process, and exits with the
 * reason when what was passed is not one listening Unix stream socket.  The
 * variables are removed in every case, so that nothing the agent runs sees
 * them; the descriptor is made close-on-exec and non-blocking (accept_all
 * drains it), and its path goes to srv.sock_path. */
static int activated_socket(void)
{
    const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
    char pidv[32] = "", fdsv[32] = "";
    snprintf(pidv, sizeof pidv, "%s", pid_s ? pid_s : "");
    snprintf(fdsv, sizeof fdsv, "%s", fds_s ? fds_s : "");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!pidv[0])
        return -1;
    char *end;
    errno = 0;
    long pid = strtol(pidv, &end, 10);
    if (*end || errno || pid != (long)getpid())
        return -1; /* inherited from a parent: not ours */
    long n = strtol(fdsv, &end, 10);
    if (!fdsv[0] || *end || n != 1)
        start_failed("socket activation: LISTEN_FDS is '%s' (one socket wanted)", fdsv);
    const int fd = 3;
    int type = 0, listening = 0;
    socklen_t tl = sizeof type, ll = sizeof listening;
    struct sockaddr_un sa;
    socklen_t sl = sizeof sa;
    memset(&sa, 0, sizeof sa);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        start_failed("socket activation: descriptor 3: %s", strerror(errno));
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        start_failed("socket activation: descriptor 3: %s", strerror(errno));
    if (type != SOCK_STREAM || !listening || sa.sun_family != AF_UNIX)
        start_failed("socket activation: descriptor 3 is not a listening Unix stream "
                     "socket (ListenStream= a path)");
    size_t got = sl < sizeof sa ? sl : sizeof sa; /* the kernel may say more */
    size_t plen = got > offsetof(struct sockaddr_un, sun_path)
                      ? strnlen(sa.sun_path, got - offsetof(struct sockaddr_un, sun_path))
                      : 0;
    if (plen == 0 || sa.sun_path[0] != '/')
        start_failed("socket activation: descriptor 3 is not bound to a path "
                     "(abstract and unnamed sockets are refused)");
    int fl = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fl < 0 ||
        fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        start_failed("socket activation: descriptor 3: %s", strerror(errno));
    snprintf(srv.sock_path, sizeof srv.sock_path, "%.*s", (int)plen, sa.sun_path);
    return fd;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < AGENT_MAX_CONNS + 256 &&
        rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur =
            rl.rlim_max < AGENT_MAX_CONNS + 256 ? rl.rlim_max : AGENT_MAX_CONNS + 256;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void start_workers(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* threads inherit it */
    for (int i = 0; i < AGENT_WORKERS; i++) {
        pthread_t t;
        int e = pthread_create(&t, NULL, worker, NULL);
        if (e)
            start_failed("cannot start threads: %s", strerror(e));
        pthread_detach(t);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int run_agent(const struct agent_opts *o)
{
    if (getauxval(AT_SECURE)) {
        fprintf(stderr, "hastls agent: refusing to run set-user-ID or set-group-ID\n");
        return 1;
    }
    /* Nothing inherited but standard input, output and error, and the
     * socket of a service manager. */
    int afd = activated_socket();
    close_range(afd >= 0 ? 4 : 3, ~0u, 0);
    srv.activated = afd >= 0;
    int rc = load_config(o, &srv.cfg);
    if (rc < 0)
        return rc == -2 ? 2 : 1;
    if (o->idle >= 0)
        srv.cfg.agent_idle = (unsigned)o->idle;
    log_level = srv.cfg.log_level;
    char dir[HASTLS_PATH_MAX], name[64];
    if (locate(&srv.cfg, &srv.dirfd, dir, sizeof dir, name, sizeof name) < 0)
        return 1;
    snprintf(srv.key, sizeof srv.key, "%s", name);
    snprintf(srv.sock_name, sizeof srv.sock_name, "%s.sock", name);
    if (!srv.activated)
        snprintf(srv.sock_path, sizeof srv.sock_path, "%s/%s", dir, srv.sock_name);

    signal(SIGPIPE, SIG_IGN);
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGHUP);
    sigprocmask(SIG_BLOCK, &stops, NULL);
    int sigfd = signalfd(-1, &stops, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        fprintf(stderr, "hastls agent: signalfd: %s\n", strerror(errno));
        return 1;
    }
    if (!o->foreground)
        detach();
    /* The lock guards the name of the socket the agent makes; an activated
     * one makes none, and must not exit at once (its service manager would
     * start it again and again) when another agent holds the lock. */
    if (!srv.activated)
        take_lock();
    if (!o->foreground)
        open_log(srv.sock_name);
    srv.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv.evfd < 0)
        start_failed("eventfd: %s", strerror(errno));
    char err[1024] = "";
    srv.res = hastls_resolver_new(&srv.cfg, resolver_log, err, sizeof err);
    if (!srv.res)
        start_failed("cannot start the resolver: %s", err);
    raise_fd_limit();
    start_workers();
    shared_open();
    int lfd = srv.activated ? afd : listen_socket(dir);
    srv.started = time(NULL);
    agent_log(HASTLS_LOG_INFO, "serving %s for %s (idle exit after %u s)", srv.sock_path,
              config_label(&srv.cfg), srv.cfg.agent_idle);
    if (!o->foreground) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            close(null);
        }
        if (chdir("/") < 0)
            agent_log(HASTLS_LOG_WARN, "chdir /: %s", strerror(errno));
        close(report_fd); /* the waiting command returns 0 */
        report_fd = -1;
    }
    serve(lfd, sigfd);
    return 0;
}

int hastls_cmd_agent(int argc, char **argv)
{
    static const struct option opts[] = {
        {"foreground", no_argument, NULL, 'f'},
        {"idle", required_argument, NULL, 'i'},
        {"config", required_argument, NULL, 'c'},
        {"app", required_argument, NULL, 'a'},
        {"privacy", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct agent_opts o = {.idle = -1};
    const char *verb = NULL;
    if (argc > 1 && argv[1][0] != '-') {
        verb = argv[1];
        if (strcmp(verb, "status") && strcmp(verb, "stop")) {
            fprintf(stderr, "hastls agent: unknown action '%s' (status or stop)\n", verb);
            return 2;
        }
        argc--;
        argv++;
    }
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o.foreground = 1;
            break;
        case 'i': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || v < 1 || v > 86400) {
                fprintf(stderr, "hastls agent: --idle wants seconds in 1..86400\n");
                return 2;
            }
            o.idle = v;
            break;
        }
        case 'c':
            o.config = optarg;
            break;
        case 'a':
            o.app = optarg;
            break;
        case 'p':
            o.privacy = optarg;
            break;
        case 'h':
            agent_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "hastls agent: option '%s' needs a value\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "hastls agent: unknown option '%s' (try --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hastls agent: unexpected argument '%s' (try --help)\n",
                argv[optind]);
        return 2;
    }
    if (verb && (o.foreground || o.idle >= 0)) {
        fprintf(stderr, "hastls agent %s: --foreground and --idle are for starting\n",
                verb);
        return 2;
    }
    return verb ? client_verb(verb, &o) : run_agent(&o);
}
