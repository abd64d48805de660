/*
 * mock-kafka: a tiny launcher around librdkafka's built-in mock cluster, which speaks the
 * real Kafka wire protocol over TCP. Built by scripts/setup-test-infra.sh.
 *
 * Usage:
 *   mock-kafka --brokers N [--topic name:partitions[:replication]]... [--controller ID]
 *              [--rebalance-delay-ms MS] [--debug]
 *
 * Prints exactly one line "BOOTSTRAP host:port,..." on stdout once the cluster is up, then
 * reads commands line by line on stdin and answers "OK" or "ERR <message>" per command:
 *   broker-down ID                     close the broker's listener and connections
 *   broker-up ID                       bring it back
 *   request-errors APIKEY ERR [ERR..]  the next requests of APIKEY (cluster wide) fail with
 *                                      these Kafka error codes, one per request, in order
 *                                      (-195 = disconnect the client instead)
 *   clear-request-errors APIKEY        drop pending injected errors for APIKEY
 *   topic NAME PARTITIONS [REPL]       create a topic
 *   delete-topic NAME                  delete a topic
 *   leader TOPIC PARTITION BROKER      move partition leadership (-1 = no leader)
 *   controller ID                      controller id reported in Metadata (-1 = none)
 *   rtt BROKER MS                      add MS of latency to the broker's responses
 *   rebalance-delay MS                 group.initial.rebalance.delay.ms for new groups
 *   api-version APIKEY MIN MAX         restrict the versions advertised/accepted for APIKEY
 *   ping                               no-op
 *   quit                               shut down
 * LeaveGroup is capped at v2 at start-up: the mock advertises v0-v4 but parses every version
 * as v0, so kafkajs' LeaveGroup v3 (batched members) silently fails and the member lingers
 * until its session times out.
 * Exits 0 on "quit", stdin EOF, SIGTERM or SIGINT (also when the parent dies, on Linux).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 256
#define MAX_ARGS 130
#define LINE_MAX_LEN 8192

static volatile sig_atomic_t stop_requested = 0;
static int debug_enabled                    = 0;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

static void die(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "mock-kafka: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(2);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        (void)rk;
        if (debug_enabled || level <= 3)
                fprintf(stderr, "mock-kafka: %d %s: %s\n", level, fac, buf);
}

static int parse_int(const char *s, long min, long max, long *out) {
        char *end;
        long v;
        if (!s || !*s)
                return -1;
        errno = 0;
        v     = strtol(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return -1;
        *out = v;
        return 0;
}

static void reply(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
        if (fflush(stdout) != 0) /* parent went away */
                stop_requested = 1;
}

static void reply_err(rd_kafka_resp_err_t err) {
        if (err)
                reply("ERR %s", rd_kafka_err2str(err));
        else
                reply("OK");
}

/* Splits line in place on whitespace. Returns argc. */
static int split_args(char *line, char **argv, int max) {
        int argc = 0;
        char *save = NULL;
        char *tok  = strtok_r(line, " \t\r\n", &save);
        while (tok && argc < max) {
                argv[argc++] = tok;
                tok          = strtok_r(NULL, " \t\r\n", &save);
        }
        return argc;
}

/* Returns 1 when the launcher should quit. */
static int handle_command(rd_kafka_mock_cluster_t *mc, int broker_cnt, char *line) {
        char *argv[MAX_ARGS];
        int argc = split_args(line, argv, MAX_ARGS);
        long a, b, c;
        const char *cmd;

        if (argc == 0)
                return 0; /* ignore blank lines, no reply */
        cmd = argv[0];

        if (!strcmp(cmd, "quit")) {
                reply("OK");
                return 1;
        } else if (!strcmp(cmd, "ping")) {
                reply("OK");
        } else if (!strcmp(cmd, "broker-down") || !strcmp(cmd, "broker-up")) {
                if (argc != 2 || parse_int(argv[1], 1, broker_cnt, &a)) {
                        reply("ERR usage: %s BROKER_ID (1..%d)", cmd, broker_cnt);
                        return 0;
                }
                reply_err(!strcmp(cmd, "broker-down")
                              ? rd_kafka_mock_broker_set_down(mc, (int32_t)a)
                              : rd_kafka_mock_broker_set_up(mc, (int32_t)a));
        } else if (!strcmp(cmd, "request-errors")) {
                rd_kafka_resp_err_t errs[MAX_ARGS];
                int i;
                if (argc < 3 || parse_int(argv[1], 0, SHRT_MAX, &a)) {
                        reply("ERR usage: request-errors APIKEY ERRCODE [ERRCODE...]");
                        return 0;
                }
                for (i = 2; i < argc; i++) {
                        if (parse_int(argv[i], -200, 1000, &b)) {
                                reply("ERR bad error code '%s'", argv[i]);
                                return 0;
                        }
                        errs[i - 2] = (rd_kafka_resp_err_t)b;
                }
                rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)(argc - 2), errs);
                reply("OK");
        } else if (!strcmp(cmd, "clear-request-errors")) {
                if (argc != 2 || parse_int(argv[1], 0, SHRT_MAX, &a)) {
                        reply("ERR usage: clear-request-errors APIKEY");
                        return 0;
                }
                rd_kafka_mock_clear_request_errors(mc, (int16_t)a);
                reply("OK");
        } else if (!strcmp(cmd, "topic")) {
                c = broker_cnt < 3 ? broker_cnt : 3;
                if ((argc != 3 && argc != 4) || parse_int(argv[2], 1, 100000, &b) ||
                    (argc == 4 && parse_int(argv[3], 1, broker_cnt, &c))) {
                        reply("ERR usage: topic NAME PARTITIONS [REPLICATION<=%d]", broker_cnt);
                        return 0;
                }
                reply_err(rd_kafka_mock_topic_create(mc, argv[1], (int)b, (int)c));
        } else if (!strcmp(cmd, "delete-topic")) {
                if (argc != 2) {
                        reply("ERR usage: delete-topic NAME");
                        return 0;
                }
                reply_err(rd_kafka_mock_topic_delete(mc, argv[1]));
        } else if (!strcmp(cmd, "leader")) {
                if (argc != 4 || parse_int(argv[2], 0, INT_MAX, &a) ||
                    parse_int(argv[3], -1, broker_cnt, &b)) {
                        reply("ERR usage: leader TOPIC PARTITION BROKER_ID");
                        return 0;
                }
                reply_err(rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a, (int32_t)b));
        } else if (!strcmp(cmd, "controller")) {
                if (argc != 2 || parse_int(argv[1], -1, broker_cnt, &a)) {
                        reply("ERR usage: controller BROKER_ID");
                        return 0;
                }
                rd_kafka_mock_set_controller_id(mc, (int32_t)a);
                reply("OK");
        } else if (!strcmp(cmd, "rtt")) {
                if (argc != 3 || parse_int(argv[1], 1, broker_cnt, &a) ||
                    parse_int(argv[2], 0, 600000, &b)) {
                        reply("ERR usage: rtt BROKER_ID MS");
                        return 0;
                }
                reply_err(rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b));
        } else if (!strcmp(cmd, "rebalance-delay")) {
                if (argc != 2 || parse_int(argv[1], 0, 600000, &a)) {
                        reply("ERR usage: rebalance-delay MS");
                        return 0;
                }
                rd_kafka_mock_group_initial_rebalance_delay_ms(mc, (int32_t)a);
                reply("OK");
        } else if (!strcmp(cmd, "api-version")) {
                if (argc != 4 || parse_int(argv[1], 0, SHRT_MAX, &a) ||
                    parse_int(argv[2], -1, SHRT_MAX, &b) || parse_int(argv[3], -1, SHRT_MAX, &c)) {
                        reply("ERR usage: api-version APIKEY MIN MAX");
                        return 0;
                }
                reply_err(rd_kafka_mock_set_apiversion(mc, (int16_t)a, (int16_t)b, (int16_t)c));
        } else {
                reply("ERR unknown command '%s'", cmd);
        }
        return 0;
}

int main(int argc, char **argv) {
        long broker_cnt = 1, controller = 1, rebalance_delay = -1;
        const char *topics[MAX_TOPICS];
        int topic_cnt = 0, i;
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;
        struct sigaction sa;
        char buf[LINE_MAX_LEN];
        size_t len = 0;
        int quit   = 0;

        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];
                const char *val = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(arg, "--brokers")) {
                        if (parse_int(val, 1, 64, &broker_cnt))
                                die("--brokers expects 1..64");
                        i++;
                } else if (!strcmp(arg, "--topic")) {
                        if (!val || topic_cnt >= MAX_TOPICS)
                                die("--topic expects name:partitions[:replication]");
                        topics[topic_cnt++] = val;
                        i++;
                } else if (!strcmp(arg, "--controller")) {
                        if (parse_int(val, -1, 64, &controller))
                                die("--controller expects a broker id");
                        i++;
                } else if (!strcmp(arg, "--rebalance-delay-ms")) {
                        if (parse_int(val, 0, 600000, &rebalance_delay))
                                die("--rebalance-delay-ms expects 0..600000");
                        i++;
                } else if (!strcmp(arg, "--debug")) {
                        debug_enabled = 1;
                } else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
                        printf("usage: mock-kafka --brokers N [--topic name:partitions[:repl]]... "
                               "[--controller ID] [--rebalance-delay-ms MS] [--debug]\n");
                        return 0;
                } else {
                        die("unknown argument '%s'", arg);
                }
        }
        if (controller > broker_cnt)
                die("--controller %ld is not a broker (1..%ld)", controller, broker_cnt);

#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, log_cb);
        if (debug_enabled &&
            rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof(errstr)) !=
                RD_KAFKA_CONF_OK)
                die("%s", errstr);
        /* The handle only does book keeping for the mock cluster; it connects nowhere. */
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                die("rd_kafka_new: %s", errstr);

        mc = rd_kafka_mock_cluster_new(rk, (int)broker_cnt);
        if (!mc)
                die("rd_kafka_mock_cluster_new failed");
        /* Mock default is controller id 0 (no such broker): kafkajs idempotent producers
         * then cannot find the controller. */
        rd_kafka_mock_set_controller_id(mc, (int32_t)controller);
        /* LeaveGroup v3+ carries a members array the mock cannot parse (see top). */
        rd_kafka_mock_set_apiversion(mc, 13 /* LeaveGroup */, 0, 2);
        if (rebalance_delay >= 0)
                rd_kafka_mock_group_initial_rebalance_delay_ms(mc, (int32_t)rebalance_delay);

        for (i = 0; i < topic_cnt; i++) {
                char name[512];
                long parts = 0, repl = broker_cnt < 3 ? broker_cnt : 3;
                char *p1, *p2;
                rd_kafka_resp_err_t err;
                if (strlen(topics[i]) >= sizeof(name))
                        die("topic spec too long");
                strcpy(name, topics[i]);
                p1 = strchr(name, ':');
                if (!p1)
                        die("--topic '%s': expected name:partitions", topics[i]);
                *p1++ = '\0';
                p2    = strchr(p1, ':');
                if (p2)
                        *p2++ = '\0';
                if (!*name || parse_int(p1, 1, 100000, &parts) ||
                    (p2 && parse_int(p2, 1, broker_cnt, &repl)))
                        die("--topic '%s': expected name:partitions[:replication<=brokers]",
                            topics[i]);
                err = rd_kafka_mock_topic_create(mc, name, (int)parts, (int)repl);
                if (err)
                        die("creating topic %s: %s", name, rd_kafka_err2str(err));
        }

        printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);

        while (!quit && !stop_requested) {
                struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
                ssize_t r;
                char *nl;
                int pr = poll(&pfd, 1, 500);
                if (pr < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pr == 0)
                        continue;
                r = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
                if (r < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        break;
                }
                if (r == 0) { /* EOF: run a final unterminated command, then exit */
                        if (len > 0) {
                                buf[len] = '\0';
                                handle_command(mc, (int)broker_cnt, buf);
                        }
                        break;
                }
                len += (size_t)r;
                buf[len] = '\0';
                while (!quit && (nl = memchr(buf, '\n', len))) {
                        size_t consumed = (size_t)(nl - buf) + 1;
                        *nl             = '\0';
                        quit            = handle_command(mc, (int)broker_cnt, buf);
                        memmove(buf, buf + consumed, len - consumed);
                        len -= consumed;
                        buf[len] = '\0';
                }
                if (len == sizeof(buf) - 1) {
                        reply("ERR line too long");
                        len = 0;
                }
        }

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 0;
}
