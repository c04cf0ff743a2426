/*
 * progcheck.h - what -t checks of the programs ostiary would run.
 *
 * COMMAND (on ostiary's PATH, as ostiary's user) and every exec probe's
 * program (on the probe's own PATH: the fixed clean one unless
 * inherit_env, or its env's PATH; as the probe's user and group) must be
 * found and executable: the mode bits of the file and the search bits of
 * every directory above it, against the uid, gid and groups the program
 * will run with, so that -t as root does not pass what `nobody` cannot
 * run.  ACLs and capabilities beyond root's are not looked at.
 */
#ifndef OSTIARY_PROGCHECK_H
#define OSTIARY_PROGCHECK_H

#include <ostiary/consul.h>

#include "conf.h"

/* 0, or -1 with err naming the program, the path searched and why. */
int progcheck_command(const struct conf *conf, consul_error *err);
int progcheck_probes(const struct conf *conf, consul_error *err);

#endif
