/*++
 * NAME
 *	mailrelayd 8
 * SUMMARY
 *	the niftpmail node daemon
 * SYNOPSIS
 *	mailrelayd -c NODE.ini [-f] [-v]
 *	mailrelayd --stdio -c NODE.ini
 * DESCRIPTION
 *	main() only: the daemon is relay/relayd*.c; see doc/mailrelayd.8.
 *--*/
int relayd_main(int argc, char **argv);

int main(int argc, char **argv)
{
	return relayd_main(argc, argv);
}
