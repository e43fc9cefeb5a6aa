/*
 * srtp_protect.c — CPU cost of one srtp_protect() (AEAD_AES_256_GCM, 1000-byte RTP packets)
 * as the number of SRTP sessions grows, one session per viewer as mediasoup has (one
 * outbound session per transport, a stream per SSRC). Written in C, not TypeScript, because
 * it times libsrtp2 itself, without the mediasoup worker around it: link it once against
 * Debian's binary libsrtp2 (NSS) and once against libsrtp2 built from Debian's source package
 * with OpenSSL, and compare. See docs/benchmarks.md ("Worker build levers").
 *
 *   cc -O2 -o /tmp/srtp-nss bench/workerBuild/srtp_protect.c $(pkg-config --cflags --libs libsrtp2)
 *   cc -O2 -I<libsrtp2 src>/include -I<libsrtp2 src>/crypto/include -o /tmp/srtp-ossl \
 *      bench/workerBuild/srtp_protect.c <build>/libsrtp2.a -lcrypto
 *   /tmp/srtp-nss 1 100 400 600
 *
 * Prints, per session count, the mean CPU ns per srtp_protect() over ~2 s of round-robin
 * protects (every session in turn, as a fan-out sends one packet to every viewer).
 */
#include <srtp2/srtp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv)
{
	if (srtp_init() != srtp_err_status_ok)
	{
		fprintf(stderr, "srtp_init failed\n");
		return 1;
	}
	for (int a = 1; a < argc; a++)
	{
		const int n = atoi(argv[a]);
		if (n <= 0)
			continue;
		srtp_t* sessions = calloc((size_t)n, sizeof(srtp_t));
		unsigned char key[SRTP_AES_GCM_256_KEY_LEN_WSALT];
		for (int i = 0; i < n; i++)
		{
			srtp_policy_t policy;
			memset(&policy, 0, sizeof(policy));
			srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp);
			srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtcp);
			for (size_t k = 0; k < sizeof(key); k++)
				key[k] = (unsigned char)(rand() & 0xff);
			policy.key             = key;
			policy.ssrc.type       = ssrc_any_outbound;
			policy.window_size     = 1024;
			policy.allow_repeat_tx = 1;
			if (srtp_create(&sessions[i], &policy) != srtp_err_status_ok)
			{
				fprintf(stderr, "srtp_create failed\n");
				return 1;
			}
		}
		unsigned char pkt[1000 + SRTP_MAX_TRAILER_LEN];
		uint16_t seq   = 0;
		long protects  = 0;
		const double t0 = cpu_seconds();
		double t1       = t0;
		while (t1 - t0 < 2.0)
		{
			for (int i = 0; i < n; i++)
			{
				memset(pkt, 0xab, 1000);
				pkt[0] = 0x80;
				pkt[1] = 101;
				pkt[2] = (unsigned char)(seq >> 8);
				pkt[3] = (unsigned char)(seq & 0xff);
				pkt[8] = 0x12;
				pkt[9] = 0x34;
				pkt[10] = 0xab;
				pkt[11] = 0xcd;
				int len = 1000;
				if (srtp_protect(sessions[i], pkt, &len) != srtp_err_status_ok)
				{
					fprintf(stderr, "srtp_protect failed\n");
					return 1;
				}
				protects++;
			}
			seq++;
			if ((seq & 63) == 0) /* reading the clock costs about a protect */
				t1 = cpu_seconds();
		}
		printf("sessions=%d ns_per_protect=%.0f protects=%ld\n", n, (t1 - t0) * 1e9 / (double)protects, protects);
		for (int i = 0; i < n; i++)
			srtp_dealloc(sessions[i]);
		free(sessions);
	}
	return 0;
}
