/*++
 * NAME
 *	version 3h
 * SUMMARY
 *	the release of niftpmail, defined once
 * SYNOPSIS
 *	#include "util/version.h"
 * DESCRIPTION
 *	NIFTPMAIL_VERSION is the one version string of the whole suite:
 *	every program's --version ("mailrelayd (niftpmail) 0.12.0", printed
 *	by VERSION_LINE) and the information messages the NIFTP engines
 *	send (niftp_cfg.info) are made from it. Change it here only.
 *--*/
#ifndef UTIL_VERSION_H
#define UTIL_VERSION_H

#define NIFTPMAIL_VERSION	"0.12.0"

/* VERSION_LINE - the --version text of program PROG (a string literal),
 * without the newline: "PROG (niftpmail) VERSION" */
#define VERSION_LINE(prog)	prog " (niftpmail) " NIFTPMAIL_VERSION

#endif
