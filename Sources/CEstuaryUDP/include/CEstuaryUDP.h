#ifndef C_ESTUARY_UDP_H
#define C_ESTUARY_UDP_H

/// The most datagrams one call of `estuary_udp_receive` takes.
#define ESTUARY_UDP_BATCH 32

/// Receives the datagrams queued on the non-blocking UDP socket `fd`, up to `count` (at most
/// ESTUARY_UDP_BATCH) in one system call (`recvmmsg`), without waiting: datagram i is written at
/// `buffer + i * slot`, its length to `lengths[i]`, and `truncated[i]` is 1 when it was longer than
/// `slot` (its first `slot` bytes are kept). Returns how many were received, 0 when none is queued,
/// or `-errno` on an error.
///
/// Swift's Glibc module does not export `recvmmsg` (a GNU extension), hence this shim.
int estuary_udp_receive(int fd, unsigned char *buffer, unsigned int slot, unsigned int count, unsigned int *lengths,
                        unsigned char *truncated);

#endif
