/*++
 * NAME
 *	mailctl 1
 * SUMMARY
 *	control a niftpmail node
 * SYNOPSIS
 *	mailctl -c NODE.ini submit|queue|route|check-config|retry|reload [ARGS]
 * DESCRIPTION
 *	main() only: the commands are relay/ctl.c; see doc/mailctl.1.
 *--*/
int ctl_main(int argc, char **argv);

int main(int argc, char **argv)
{
	return ctl_main(argc, argv);
}
