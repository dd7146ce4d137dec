/* shim/cli/cli.h: the verbs of the hastls command-line tool.
 *
 * Each verb lives in its own file shim/cli/cmd_VERB.c and has the signature
 * below: ARGV[0] is the verb itself, the return value is the exit status.
 * Every verb answers --help on standard output with status 0, and reports a
 * usage error on standard error with status 2.
 */
#ifndef HASTLS_CLI_H
#define HASTLS_CLI_H

typedef int (*hastls_cli_verb_fn)(int argc, char **argv);

int hastls_cmd_agent(int argc, char **argv);
int hastls_cmd_check(int argc, char **argv);
int hastls_cmd_config(int argc, char **argv);
int hastls_cmd_decide(int argc, char **argv);
int hastls_cmd_lookup(int argc, char **argv);
int hastls_cmd_pins(int argc, char **argv);
int hastls_cmd_run(int argc, char **argv);

#endif
