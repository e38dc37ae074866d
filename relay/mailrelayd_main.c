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
#ifdef __GLIBC__
#include <malloc.h>
#endif

int relayd_main(int argc, char **argv);

int main(int argc, char **argv)
{
#ifdef __GLIBC__
	/* Each worker thread would get a malloc arena of its own, which
	 * keeps what it freed: with a long queue that is tens of MiB per
	 * worker (measured: 297 MiB after 30 s idle with 100,000 letters
	 * queued, 156 MiB of it in four thread arenas). Two arenas are
	 * enough for one loop thread and a few workers that mostly wait
	 * for fsync. */
	(void) mallopt(M_ARENA_MAX, 2);
#endif
	return relayd_main(argc, argv);
}
