/*++
 * NAME
 *	mailctl 1
 * SUMMARY
 *	control a niftpmail node
 * SYNOPSIS
 *	mailctl [-c NODE.ini] COMMAND [ARGS]
 * DESCRIPTION
 *	main() only: the commands are relay/ctl.c (requests to the daemon:
 *	the table of relay/ctl_proto.h); see doc/mailctl.1.
 *--*/
int ctl_main(int argc, char **argv);

int main(int argc, char **argv)
{
	return ctl_main(argc, argv);
}
