/*++
 * NAME
 *	niftpmail-sendmail 8
 * SUMMARY
 *	hand a message from an MTA (Postfix's pipe(8)) to a niftpmail node
 * SYNOPSIS
 *	niftpmail-sendmail [-c NODE.ini] [-f SENDER] [-t] [-i] [--] RCPT...
 * DESCRIPTION
 *	main() only: the work is relay/sendmail.c (also "mailctl
 *	sendmail"); see doc/niftpmail-sendmail.8.
 *--*/
#include "relay/sendmail.h"
#include "util/log.h"

int main(int argc, char **argv)
{
	log_init("niftpmail-sendmail", LOG_LVL_INFO);
	return sendmail_main(argc, argv, NULL, "niftpmail-sendmail");
}
